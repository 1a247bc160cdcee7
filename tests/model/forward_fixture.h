// Loads a PyTorch forward fixture (tests/fixtures/forward/NAME.{json,bin},
// written by tests/reference/make_forward_fixtures.py) as a config, a
// TensorMap over the bytes, the input tokens and the reference logits.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "model/config.h"
#include "model/weights.h"

namespace leanlm {

struct ForwardFixture {
  nlohmann::json doc;
  std::shared_ptr<std::vector<float>> storage;  // the .bin, float-aligned
  ModelConfig config;
  TensorMap tensors;
  std::vector<int32_t> tokens;
  std::vector<float> logits;  // (n_tokens, n_vocab)
  int64_t n_tokens = 0;
};

inline std::string FixturePath(const std::string& name) {
  return std::string(LEANLM_SOURCE_DIR) + "/tests/fixtures/forward/" + name;
}

inline ModelConfig ConfigFromFixture(const nlohmann::json& j) {
  ModelConfig c;
  c.n_vocab = j.at("n_vocab");
  c.n_embd = j.at("n_embd");
  c.n_layer = j.at("n_layer");
  c.n_head = j.at("n_head");
  c.n_head_kv = j.at("n_head_kv");
  c.n_ff = j.at("n_ff");
  c.head_dim = j.at("head_dim");
  c.n_ctx_train = j.at("n_ctx_train");
  c.norm_eps = j.at("norm_eps");
  c.rope_theta = j.at("rope_theta");
  c.rope_neox = j.at("rope_neox");
  c.rope_dim = j.at("rope_dim");
  const std::string scaling = j.at("rope_scaling");
  c.rope_scaling = scaling == "linear" ? RopeScaling::kLinear
                   : scaling == "llama3" ? RopeScaling::kLlama3
                                         : RopeScaling::kNone;
  c.rope_factor = j.at("rope_factor");
  c.rope_low_freq_factor = j.at("rope_low_freq_factor");
  c.rope_high_freq_factor = j.at("rope_high_freq_factor");
  c.rope_orig_ctx = j.at("rope_orig_ctx");
  c.tied_embeddings = j.at("tied_embeddings");
  c.qkv_bias = j.at("qkv_bias");
  c.activation = j.at("activation") == "gelu_tanh" ? Activation::kGeluTanh : Activation::kSilu;
  c.embed_scale = j.at("embed_scale");
  return c;
}

inline ForwardFixture LoadForwardFixture(const std::string& name) {
  ForwardFixture f;
  std::ifstream js(FixturePath(name + ".json"));
  EXPECT_TRUE(js.good()) << "cannot open fixture " << name;
  f.doc = nlohmann::json::parse(js);
  std::ifstream bs(FixturePath(name + ".bin"), std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(bs)), std::istreambuf_iterator<char>());
  f.storage = std::make_shared<std::vector<float>>((bytes.size() + 3) / 4);
  std::memcpy(f.storage->data(), bytes.data(), bytes.size());
  const auto* base = reinterpret_cast<const uint8_t*>(f.storage->data());

  f.config = ConfigFromFixture(f.doc.at("config"));
  for (const auto& t : f.doc.at("tensors")) {
    TensorView v;
    v.type = ParseTypeName(t.at("type").get<std::string>()).value();
    v.n_dims = static_cast<int>(t.at("ne").size());
    for (int i = 0; i < v.n_dims; ++i) v.ne[static_cast<size_t>(i)] = t.at("ne")[static_cast<size_t>(i)];
    v.data = base + t.at("offset").get<size_t>();
    EXPECT_LE(t.at("offset").get<size_t>() + v.bytes(), bytes.size()) << t.at("name");
    f.tensors[t.at("name")] = v;
  }
  f.tokens = f.doc.at("tokens").get<std::vector<int32_t>>();
  const auto& lg = f.doc.at("logits");
  f.n_tokens = lg.at("n_tokens");
  const auto* logits = reinterpret_cast<const float*>(base + lg.at("offset").get<size_t>());
  f.logits.assign(logits, logits + f.n_tokens * f.config.n_vocab);
  return f;
}

}  // namespace leanlm
