// Adapters applied unmerged against PyTorch logits (make_peft_fixtures.py):
// LoRA, scaled LoRA, rsLoRA stored in F16 on a subset of layers, DoRA,
// prompt tuning, prefix tuning and all at once; on the base in HF's Q/K
// layout and on the same base in llama.cpp's (which permutes B and the prefix
// keys on load). Also hot swapping and removing adapters.
#include <gtest/gtest.h>

#include "peft_fixture.h"

namespace leanlm {
namespace {

constexpr float kTolerance = 1e-4f;

struct Case {
  std::string name;
  std::vector<std::pair<std::string, float>> adapters;
};

const std::vector<Case> kCases = {
    {"lora", {{"lora", 1.0f}}},
    {"lora_scaled", {{"lora", 0.5f}}},
    {"rslora_f16", {{"rslora_f16", 1.0f}}},
    {"dora", {{"dora", 1.0f}}},
    {"prompt", {{"prompt", 1.0f}}},
    {"prefix", {{"prefix", 1.0f}}},
    {"several", {{"lora", 0.5f}, {"rslora_f16", 1.5f}, {"dora", 1.0f}, {"prefix", 1.0f}, {"prompt", 1.0f}}},
};

class AdapterForwardTest : public ::testing::TestWithParam<std::tuple<std::string, Case>> {};

TEST_P(AdapterForwardTest, MatchesPyTorch) {
  const auto& [base_name, c] = GetParam();
  PeftBase base(base_name);
  std::vector<std::shared_ptr<const Adapter>> adapters;
  for (const auto& [dir, scale] : c.adapters) adapters.push_back(base.Load(dir, scale));
  ASSERT_TRUE(base.model->SetAdapters(adapters).ok());
  EXPECT_LE(MaxAbsDiff(base.Logits(), ReadLogits(c.name)), kTolerance) << c.name << " on " << base_name;
}

INSTANTIATE_TEST_SUITE_P(All, AdapterForwardTest,
                         ::testing::Combine(::testing::Values("base", "base_adjacent"), ::testing::ValuesIn(kCases)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param).name;
                         });

TEST(AdapterForward, TokenByTokenWithVirtualTokens) {
  PeftBase base("base_adjacent");
  ASSERT_TRUE(base.model->SetAdapters({base.Load("prefix"), base.Load("prompt"), base.Load("dora")}).ok());
  // One token at a time through the cache equals the whole prompt at once.
  const std::vector<float> all = base.Logits();
  ThreadPool pool(2);
  KvCache cache(base.f.config, base.f.n_tokens + base.model->n_virtual());
  const int64_t v = base.f.config.n_vocab;
  std::vector<float> row(static_cast<size_t>(v));
  for (int64_t i = 0; i < base.f.n_tokens; ++i) {
    ASSERT_TRUE(base.model->Forward(&base.f.tokens[static_cast<size_t>(i)], 1, i, cache, row.data(), false, pool).ok());
    const std::vector<float> want(all.begin() + i * v, all.begin() + (i + 1) * v);
    EXPECT_LE(MaxAbsDiff(row, want), kTolerance) << "position " << i;
  }
}

TEST(AdapterForward, HotSwapAndRemove) {
  PeftBase base("base");
  const std::vector<float> plain = base.Logits();
  ASSERT_TRUE(base.model->SetAdapters({base.Load("lora")}).ok());
  EXPECT_LE(MaxAbsDiff(base.Logits(), ReadLogits("lora")), kTolerance);
  ASSERT_TRUE(base.model->SetAdapters({base.Load("prefix")}).ok());
  EXPECT_EQ(base.model->n_virtual(), 2);
  EXPECT_LE(MaxAbsDiff(base.Logits(), ReadLogits("prefix")), kTolerance);
  ASSERT_TRUE(base.model->SetAdapters({}).ok());
  EXPECT_EQ(base.model->n_virtual(), 0);
  EXPECT_EQ(MaxAbsDiff(base.Logits(), plain), 0.0f);  // the plain forward, bit for bit
}

TEST(AdapterForward, CacheTooSmallForVirtualTokens) {
  PeftBase base("base");
  ASSERT_TRUE(base.model->SetAdapters({base.Load("prompt")}).ok());
  ThreadPool pool(1);
  KvCache cache(base.f.config, base.f.n_tokens);  // no room for the 3 virtual tokens
  std::vector<float> logits(static_cast<size_t>(base.f.n_tokens * base.f.config.n_vocab));
  const Status st = base.model->Forward(base.f.tokens.data(), base.f.n_tokens, 0, cache, logits.data(), true, pool);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("virtual tokens"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace leanlm
