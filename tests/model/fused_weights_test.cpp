// Phi-3's fused projections (attn_qkv; ffn_up holding gate and up rows) bind
// as views of the separate weights: a PyTorch fixture whose tensors are fused
// here gives the fixture's reference logits, and wrong fused shapes are named.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "forward_fixture.h"
#include "model/llama.h"

namespace leanlm {
namespace {

// Stacks the rows of `parts` (same type and row length) into one tensor.
TensorView Fuse(const std::vector<TensorView>& parts, std::vector<std::vector<uint8_t>>& storage) {
  TensorView fused = parts[0];
  fused.ne[1] = 0;
  for (const TensorView& p : parts) fused.ne[1] += p.ne[1];
  std::vector<uint8_t>& bytes = storage.emplace_back();
  for (const TensorView& p : parts) {
    const auto* b = static_cast<const uint8_t*>(p.data);
    bytes.insert(bytes.end(), b, b + p.bytes());
  }
  fused.data = bytes.data();
  return fused;
}

// The fixture's tensors with q/k/v and gate/up of every layer fused as Phi-3 stores them.
TensorMap FusedTensors(const ForwardFixture& f, std::vector<std::vector<uint8_t>>& storage) {
  TensorMap t = f.tensors;
  for (int64_t l = 0; l < f.config.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    t[p + "attn_qkv.weight"] = Fuse({t[p + "attn_q.weight"], t[p + "attn_k.weight"], t[p + "attn_v.weight"]}, storage);
    t[p + "ffn_up.weight"] = Fuse({t[p + "ffn_gate.weight"], t[p + "ffn_up.weight"]}, storage);
    for (const char* name : {"attn_q.weight", "attn_k.weight", "attn_v.weight", "ffn_gate.weight"}) t.erase(p + name);
  }
  return t;
}

TEST(FusedWeights, Phi3LayoutGivesTheReferenceLogits) {
  for (const char* name : {"gqa", "gqa_f16"}) {
    const ForwardFixture f = LoadForwardFixture(name);
    std::vector<std::vector<uint8_t>> storage;
    auto weights = BindWeights(f.config, FusedTensors(f, storage), name);
    ASSERT_TRUE(weights.ok()) << weights.status().message();
    LlamaModel model(f.config, std::move(weights).value());
    KvCache cache(f.config, f.n_tokens);
    ThreadPool pool(2);
    std::vector<float> logits(static_cast<size_t>(f.n_tokens * f.config.n_vocab));
    ASSERT_TRUE(model.Forward(f.tokens.data(), f.n_tokens, 0, cache, logits.data(), true, pool).ok());
    float worst = 0;
    for (size_t i = 0; i < logits.size(); ++i) worst = std::max(worst, std::fabs(logits[i] - f.logits[i]));
    EXPECT_LE(worst, 1e-4f) << name;
  }
}

TEST(FusedWeights, WrongFusedShapesAreNamed) {
  const ForwardFixture f = LoadForwardFixture("gqa");
  std::vector<std::vector<uint8_t>> storage;
  TensorMap t = FusedTensors(f, storage);
  t["blk.1.attn_qkv.weight"].ne[1] -= 1;
  auto bad = BindWeights(f.config, t, "phi.gguf");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("blk.1.attn_qkv.weight"), std::string::npos) << bad.status().message();
  t = FusedTensors(f, storage);
  t["blk.0.ffn_up.weight"].ne[1] /= 2;
  bad = BindWeights(f.config, t, "phi.gguf");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("blk.0.ffn_up.weight"), std::string::npos) << bad.status().message();
}

}  // namespace
}  // namespace leanlm
