// LlamaModel::Forward against an independent PyTorch implementation
// (tests/reference/make_forward_fixtures.py): every position's logits, with
// the prompt processed at once, token by token through the KV cache, and in
// two chunks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "model/llama.h"
#include "forward_fixture.h"

namespace leanlm {
namespace {

constexpr float kTolerance = 1e-4f;

float MaxAbsDiff(const float* a, const float* b, int64_t n) {
  float m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

class ForwardTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    f_ = LoadForwardFixture(GetParam());
    auto weights = BindWeights(f_.config, f_.tensors, GetParam());
    ASSERT_TRUE(weights.ok()) << weights.status().message();
    model_ = std::make_unique<LlamaModel>(f_.config, std::move(weights).value());
  }

  // Checks rows [first, first + rows) of the reference.
  void ExpectRows(const float* got, int64_t first, int64_t rows, const std::string& what) {
    const int64_t v = f_.config.n_vocab;
    for (int64_t r = 0; r < rows; ++r) {
      EXPECT_LE(MaxAbsDiff(got + r * v, f_.logits.data() + (first + r) * v, v), kTolerance)
          << what << ", position " << first + r;
    }
  }

  ForwardFixture f_;
  std::unique_ptr<LlamaModel> model_;
};

TEST_P(ForwardTest, PromptAtOnce) {
  ThreadPool pool(3);
  KvCache cache(f_.config, f_.n_tokens);
  std::vector<float> logits(static_cast<size_t>(f_.n_tokens * f_.config.n_vocab));
  ASSERT_TRUE(model_->Forward(f_.tokens.data(), f_.n_tokens, 0, cache, logits.data(), true, pool).ok());
  ExpectRows(logits.data(), 0, f_.n_tokens, "all at once");
}

TEST_P(ForwardTest, TokenByTokenThroughCache) {
  ThreadPool pool(2);
  KvCache cache(f_.config, 64);
  std::vector<float> logits(static_cast<size_t>(f_.config.n_vocab));
  for (int64_t i = 0; i < f_.n_tokens; ++i) {
    ASSERT_TRUE(model_->Forward(&f_.tokens[static_cast<size_t>(i)], 1, i, cache, logits.data(), false, pool).ok());
    ExpectRows(logits.data(), i, 1, "token by token");
  }
}

TEST_P(ForwardTest, TwoChunksAndLastRowOnly) {
  ThreadPool pool(1);
  KvCache cache(f_.config, f_.n_tokens);
  const int64_t v = f_.config.n_vocab, first = 5, rest = f_.n_tokens - first;
  std::vector<float> logits(static_cast<size_t>(f_.n_tokens * v));
  ASSERT_TRUE(model_->Forward(f_.tokens.data(), first, 0, cache, logits.data(), true, pool).ok());
  ExpectRows(logits.data(), 0, first, "first chunk");
  ASSERT_TRUE(model_->Forward(f_.tokens.data() + first, rest, first, cache, logits.data(), false, pool).ok());
  ExpectRows(logits.data(), f_.n_tokens - 1, 1, "second chunk, last row");
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ForwardTest,
                         ::testing::Values("gqa", "gqa_f16", "gqa_bf16", "adjacent", "tied", "qkv_bias", "linear",
                                           "llama3", "mqa", "gelu"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// A prompt longer than LlamaModel::kMaxBatch goes through the weights in
// several batches; every row must equal decoding the tokens one by one.
TEST(ForwardLongPrompt, BatchesAgreeWithTokenByToken) {
  ForwardFixture f = LoadForwardFixture("gqa");
  auto weights = BindWeights(f.config, f.tensors, "gqa");
  ASSERT_TRUE(weights.ok());
  LlamaModel model(f.config, std::move(weights).value());
  const int64_t n = LlamaModel::kMaxBatch + 88, v = f.config.n_vocab;
  std::vector<int32_t> tokens(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) tokens[static_cast<size_t>(i)] = static_cast<int32_t>((i * 37 + 11) % v);
  ThreadPool pool(2);
  KvCache batched(f.config, n), stepped(f.config, n);
  std::vector<float> all(static_cast<size_t>(n * v)), one(static_cast<size_t>(v));
  ASSERT_TRUE(model.Forward(tokens.data(), n, 0, batched, all.data(), true, pool).ok());
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_TRUE(model.Forward(&tokens[static_cast<size_t>(i)], 1, i, stepped, one.data(), false, pool).ok());
    ASSERT_LE(MaxAbsDiff(one.data(), all.data() + i * v, v), 1e-4f) << "position " << i;
  }
}

// Llama-3.1 GGUFs carry the scaling as llama.cpp's rope_freqs tensor (one
// divisor per frequency) instead of config fields: same logits.
TEST(ForwardRopeFreqs, Llama3ScalingFromTensor) {
  ForwardFixture f = LoadForwardFixture("llama3");
  const std::vector<float> divisors = f.doc.at("rope_freqs").get<std::vector<float>>();
  f.config.rope_scaling = RopeScaling::kNone;
  TensorView freqs;
  freqs.data = divisors.data();
  freqs.n_dims = 1;
  freqs.ne[0] = static_cast<int64_t>(divisors.size());
  f.tensors["rope_freqs.weight"] = freqs;
  auto weights = BindWeights(f.config, f.tensors, "llama3");
  ASSERT_TRUE(weights.ok()) << weights.status().message();
  LlamaModel model(f.config, std::move(weights).value());
  ThreadPool pool(2);
  KvCache cache(f.config, f.n_tokens);
  std::vector<float> logits(f.logits.size());
  ASSERT_TRUE(model.Forward(f.tokens.data(), f.n_tokens, 0, cache, logits.data(), true, pool).ok());
  EXPECT_LE(MaxAbsDiff(logits.data(), f.logits.data(), static_cast<int64_t>(logits.size())), kTolerance);
}

}  // namespace
}  // namespace leanlm
