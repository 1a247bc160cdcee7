// The PEFT fixtures (tests/reference/make_peft_fixtures.py): a tiny base model
// in two RoPE layouts, PEFT adapter directories, and PyTorch logits of the
// model with adapters applied.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "model/forward_fixture.h"
#include "model/llama.h"
#include "peft/adapter_io.h"

namespace leanlm {

inline std::string PeftFixture(const std::string& name) {
  return std::string(LEANLM_SOURCE_DIR) + "/tests/fixtures/peft/" + name;
}

// A base model of the fixtures: "base" (rotate_half) or "base_adjacent".
struct PeftBase {
  ForwardFixture f;
  std::unique_ptr<LlamaModel> model;

  explicit PeftBase(const std::string& name) {
    f = LoadForwardFixture("../peft/" + name);
    auto weights = BindWeights(f.config, f.tensors, name);
    EXPECT_TRUE(weights.ok()) << weights.status().message();
    model = std::make_unique<LlamaModel>(f.config, std::move(weights).value());
  }

  // All logits of the fixture's tokens, through a fresh cache.
  std::vector<float> Logits() {
    ThreadPool pool(2);
    KvCache cache(f.config, f.n_tokens + model->n_virtual());
    std::vector<float> logits(static_cast<size_t>(f.n_tokens * f.config.n_vocab));
    const Status st = model->Forward(f.tokens.data(), f.n_tokens, 0, cache, logits.data(), true, pool);
    EXPECT_TRUE(st.ok()) << st.message();
    return logits;
  }

  std::shared_ptr<const Adapter> Load(const std::string& fixture_dir, float scale = 1.0f) {
    const std::string path = fixture_dir.rfind('/', 0) == 0 ? fixture_dir : PeftFixture(fixture_dir);
    auto a = LoadAdapter({path, scale}, f.config);
    EXPECT_TRUE(a.ok()) << a.status().message();
    return a.ok() ? std::make_shared<const Adapter>(std::move(a).value()) : nullptr;
  }
};

inline std::vector<float> ReadLogits(const std::string& name) {
  std::ifstream in(PeftFixture(name + ".logits"), std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

inline float MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

// A fresh temporary directory, removed with the object.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/leanlm_peft_XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

}  // namespace leanlm
