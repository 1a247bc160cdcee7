// Loads the PyTorch gradient fixtures (tests/fixtures/grad/, written by
// tests/reference/make_grad_fixtures.py): the base model and batch, and per
// method the initial trainable values, the reference gradients and loss.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/forward_fixture.h"
#include "model/weights.h"

namespace leanlm {

inline std::string GradFixturePath(const std::string& name) {
  return std::string(LEANLM_SOURCE_DIR) + "/tests/fixtures/grad/" + name;
}

struct NamedTensors {
  std::map<std::string, std::vector<float>> values;
  std::map<std::string, std::vector<int64_t>> shapes;  // ggml ne
};

inline nlohmann::json ReadFixtureJson(const std::string& name) {
  std::ifstream js(GradFixturePath(name + ".json"));
  EXPECT_TRUE(js.good()) << "cannot open fixture " << name;
  return nlohmann::json::parse(js);
}

inline std::vector<char> ReadFixtureBin(const std::string& name) {
  std::ifstream bs(GradFixturePath(name + ".bin"), std::ios::binary);
  return std::vector<char>((std::istreambuf_iterator<char>(bs)), std::istreambuf_iterator<char>());
}

// The tensors a table ("tensors", "params", "grads") lists, as float vectors.
inline void ReadTable(const nlohmann::json& table, const std::vector<char>& bin, NamedTensors& out) {
  for (const auto& t : table) {
    int64_t count = 1;
    std::vector<int64_t> ne = t.at("ne").get<std::vector<int64_t>>();
    for (int64_t v : ne) count *= v;
    const size_t offset = t.at("offset");
    EXPECT_LE(offset + static_cast<size_t>(count) * 4, bin.size()) << t.at("name");
    std::vector<float> data(static_cast<size_t>(count));
    std::memcpy(data.data(), bin.data() + offset, data.size() * sizeof(float));
    out.values[t.at("name")] = std::move(data);
    out.shapes[t.at("name")] = std::move(ne);
  }
}

struct GradBase {
  ModelConfig config;
  NamedTensors weights;
  TensorMap tensors;  // views of weights.values
  std::vector<int32_t> tokens, labels;  // (B, T)
  int64_t batch = 0, seq = 0;
};

// `name`: "base" or "variant".
inline std::unique_ptr<GradBase> LoadGradBase(const std::string& name) {
  auto base = std::make_unique<GradBase>();
  const nlohmann::json doc = ReadFixtureJson(name);
  base->config = ConfigFromFixture(doc.at("config"));
  base->batch = doc.at("batch");
  base->seq = doc.at("seq");
  for (const auto& row : doc.at("tokens")) {
    for (int v : row) base->tokens.push_back(v);
  }
  for (const auto& row : doc.at("targets")) {
    for (int v : row) base->labels.push_back(v);
  }
  ReadTable(doc.at("tensors"), ReadFixtureBin(name), base->weights);
  for (auto& [name, data] : base->weights.values) {
    TensorView v;
    v.data = data.data();
    const std::vector<int64_t>& ne = base->weights.shapes[name];
    v.n_dims = static_cast<int>(ne.size());
    for (size_t i = 0; i < ne.size(); ++i) v.ne[i] = ne[i];
    base->tensors[name] = v;
  }
  return base;
}

struct GradMethod {
  nlohmann::json doc;
  std::string base;     // the model fixture it applies to
  NamedTensors params;  // initial values (with those of params_from)
  NamedTensors grads;
  double loss = 0;
};

inline GradMethod LoadGradMethod(const std::string& name) {
  GradMethod m;
  m.doc = ReadFixtureJson(name);
  const std::vector<char> bin = ReadFixtureBin(name);
  ReadTable(m.doc.at("params"), bin, m.params);
  ReadTable(m.doc.at("grads"), bin, m.grads);
  m.loss = m.doc.at("loss");
  m.base = m.doc.at("base");
  if (m.doc.contains("params_from")) {
    const GradMethod from = LoadGradMethod(m.doc.at("params_from"));
    for (const auto& [k, v] : from.params.values) m.params.values.emplace(k, v);
  }
  return m;
}

}  // namespace leanlm
