// The sampler against llama.cpp's definitions of each stage
// (src/llama-sampling.cpp, b4747) on distributions whose answer is known.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <vector>

#include "sample/sampler.h"

namespace leanlm {
namespace {

SamplerParams Plain(float temperature) {
  SamplerParams p;
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  return p;
}

// Logits log(p) for the given probabilities, placed at scattered ids.
std::vector<float> LogitsOf(const std::vector<double>& probs, const std::vector<int32_t>& ids, int64_t n_vocab) {
  std::vector<float> logits(static_cast<size_t>(n_vocab), -1e9f);
  for (size_t i = 0; i < probs.size(); ++i) logits[static_cast<size_t>(ids[i])] = static_cast<float>(std::log(probs[i]));
  return logits;
}

std::map<int32_t, int> Draws(const SamplerParams& params, const std::vector<float>& logits, int n) {
  Sampler s(params);
  std::map<int32_t, int> counts;
  for (int i = 0; i < n; ++i) {
    std::vector<float> l = logits;
    ++counts[s.Sample(l.data(), static_cast<int64_t>(l.size()))];
  }
  return counts;
}

// Frequencies within 5 standard deviations of the expected probabilities,
// and nothing drawn outside them.
void ExpectFrequencies(const std::map<int32_t, int>& counts, const std::map<int32_t, double>& want, int n) {
  for (const auto& [id, c] : counts) EXPECT_TRUE(want.count(id)) << "drew id " << id << " outside the kept set";
  for (const auto& [id, p] : want) {
    const auto it = counts.find(id);
    const double freq = it == counts.end() ? 0.0 : static_cast<double>(it->second) / n;
    EXPECT_NEAR(freq, p, 5 * std::sqrt(p * (1 - p) / n) + 1e-9) << "id " << id;
  }
}

const std::vector<double> kProbs = {0.5, 0.2, 0.15, 0.1, 0.05};
const std::vector<int32_t> kIds = {7, 2, 11, 0, 5};

TEST(Sampler, GreedyTakesArgmaxLowestIdOnTies) {
  Sampler s(Plain(0.0f));
  std::vector<float> l = {0.5f, 3.0f, -1.0f, 3.0f, 2.9f};
  EXPECT_EQ(s.Sample(l.data(), 5), 1);
  l = {std::nanf(""), -2.0f, -1.0f};
  EXPECT_EQ(s.Sample(l.data(), 3), 2);
}

TEST(Sampler, TopK1IsGreedy) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  SamplerParams p = Plain(1.0f);
  p.top_k = 1;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    p.seed = seed;
    std::vector<float> l(1000);
    for (float& x : l) x = normal(rng);
    const int32_t argmax = static_cast<int32_t>(std::max_element(l.begin(), l.end()) - l.begin());
    Sampler s(p);
    EXPECT_EQ(s.Sample(l.data(), 1000), argmax);
  }
}

TEST(Sampler, Temperature1MatchesSoftmax) {
  const int n = 200000;
  const std::vector<float> logits = LogitsOf(kProbs, kIds, 16);
  std::map<int32_t, double> want;
  for (size_t i = 0; i < kProbs.size(); ++i) want[kIds[i]] = kProbs[i];
  ExpectFrequencies(Draws(Plain(1.0f), logits, n), want, n);
}

// Temperature comes last in llama.cpp's chain: it reshapes what survived.
TEST(Sampler, TemperatureScalesLogits) {
  const int n = 100000;
  const std::vector<float> logits = LogitsOf(kProbs, kIds, 16);
  std::map<int32_t, double> want;
  double sum = 0;
  for (double p : kProbs) sum += std::pow(p, 1 / 2.0);
  for (size_t i = 0; i < kProbs.size(); ++i) want[kIds[i]] = std::pow(kProbs[i], 1 / 2.0) / sum;
  ExpectFrequencies(Draws(Plain(2.0f), logits, n), want, n);
}

TEST(Sampler, TopKKeepsTheKBest) {
  const int n = 50000;
  SamplerParams p = Plain(1.0f);
  p.top_k = 2;
  ExpectFrequencies(Draws(p, LogitsOf(kProbs, kIds, 16), n), {{7, 0.5 / 0.7}, {2, 0.2 / 0.7}}, n);
}

// top-p keeps the shortest prefix with cumulative probability >= p:
// 0.5 + 0.2 + 0.15 = 0.85 >= 0.8.
TEST(Sampler, TopPKeepsTheSmallestSufficientPrefix) {
  const int n = 50000;
  SamplerParams p = Plain(1.0f);
  p.top_p = 0.8f;
  ExpectFrequencies(Draws(p, LogitsOf(kProbs, kIds, 16), n), {{7, 0.5 / 0.85}, {2, 0.2 / 0.85}, {11, 0.15 / 0.85}},
                    n);
}

// After top-k = 4 the probabilities are renormalized (0.5/0.95, ...), so
// top-p 0.88 stops after three tokens; on the full distribution it would
// need four (0.85 < 0.88).
TEST(Sampler, TopPWeighsWhatTopKLeft) {
  const int n = 50000;
  SamplerParams p = Plain(1.0f);
  p.top_k = 4;
  p.top_p = 0.88f;
  ExpectFrequencies(Draws(p, LogitsOf(kProbs, kIds, 16), n), {{7, 0.5 / 0.85}, {2, 0.2 / 0.85}, {11, 0.15 / 0.85}},
                    n);
  p.top_k = 0;
  ExpectFrequencies(Draws(p, LogitsOf(kProbs, kIds, 16), n),
                    {{7, 0.5 / 0.95}, {2, 0.2 / 0.95}, {11, 0.15 / 0.95}, {0, 0.1 / 0.95}}, n);
}

// min-p keeps tokens with p >= min_p * p_max: 0.35 * 0.5 = 0.175.
TEST(Sampler, MinPKeepsTokensNearTheBest) {
  const int n = 50000;
  SamplerParams p = Plain(1.0f);
  p.min_p = 0.35f;
  ExpectFrequencies(Draws(p, LogitsOf(kProbs, kIds, 16), n), {{7, 0.5 / 0.7}, {2, 0.2 / 0.7}}, n);
  p.min_p = 1.0f;  // only the best
  ExpectFrequencies(Draws(p, LogitsOf(kProbs, kIds, 16), n), {{7, 1.0}}, n);
}

// A 128k vocabulary with 300 equally likely tokens: top-p without top-k
// must look past its first sorted slice, and ties go to the lower ids.
TEST(Sampler, TopPOnALargeVocabulary) {
  const int64_t n_vocab = 131072;
  std::vector<float> logits(n_vocab, -1000.0f);
  std::vector<int32_t> big;
  for (int32_t i = 0; i < 300; ++i) big.push_back(i * 431 % static_cast<int32_t>(n_vocab));
  std::sort(big.begin(), big.end());
  for (int32_t id : big) logits[static_cast<size_t>(id)] = 10.0f;
  SamplerParams p = Plain(1.0f);
  p.top_p = 0.499f;  // 150 of the 300
  const int n = 1000;
  std::map<int32_t, double> want;
  for (int i = 0; i < 150; ++i) want[big[static_cast<size_t>(i)]] = 1.0 / 150;
  ExpectFrequencies(Draws(p, logits, n), want, n);
}

// llama.cpp: a token seen c > 0 times in the window gets logit / repeat when
// positive (logit * repeat otherwise), then - (c * frequency + presence).
TEST(Sampler, PenaltiesFollowLlamaCpp) {
  SamplerParams p = Plain(0.0f);
  p.repeat_penalty = 1.5f;
  p.frequency_penalty = 0.1f;
  p.presence_penalty = 0.2f;
  p.penalty_last_n = 6;
  Sampler s(p);
  for (int32_t id : {4, 4, 0, 1, 0, 3, 3, 3}) s.Accept(id);  // window: 0 1 0 3 3 3 (the 4s fell out)
  std::vector<float> l = {2.0f, -1.0f, 0.5f, 3.0f, 1.0f};
  EXPECT_EQ(s.Sample(l.data(), 5), 3);
  EXPECT_FLOAT_EQ(l[0], 2.0f / 1.5f - (2 * 0.1f + 0.2f));
  EXPECT_FLOAT_EQ(l[1], -1.0f * 1.5f - (1 * 0.1f + 0.2f));
  EXPECT_FLOAT_EQ(l[2], 0.5f);
  EXPECT_FLOAT_EQ(l[3], 3.0f / 1.5f - (3 * 0.1f + 0.2f));
  EXPECT_FLOAT_EQ(l[4], 1.0f);
  // The counts do not leak into the next call.
  l = {2.0f, -1.0f, 0.5f, 3.0f, 1.0f};
  s.Sample(l.data(), 5);
  EXPECT_FLOAT_EQ(l[3], 3.0f / 1.5f - (3 * 0.1f + 0.2f));
}

TEST(Sampler, PenaltiesChangeTheGreedyChoice) {
  SamplerParams p = Plain(0.0f);
  p.repeat_penalty = 2.0f;
  Sampler s(p);
  s.Accept(0);
  std::vector<float> l = {3.0f, 2.0f};
  EXPECT_EQ(s.Sample(l.data(), 2), 1);
}

TEST(Sampler, SameSeedSameSequence) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> logits(5000);
  for (float& x : logits) x = normal(rng);
  auto run = [&](uint64_t seed) {
    SamplerParams p;  // the defaults: top-k 40, top-p 0.95, min-p 0.05, temperature 0.8
    p.seed = seed;
    p.repeat_penalty = 1.1f;
    Sampler s(p);
    std::vector<int32_t> ids;
    for (int i = 0; i < 100; ++i) {
      std::vector<float> l = logits;
      ids.push_back(s.Sample(l.data(), static_cast<int64_t>(l.size())));
      s.Accept(ids.back());
    }
    return ids;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(SamplerParams, Validate) {
  EXPECT_TRUE(SamplerParams().Validate().ok());
  SamplerParams p;
  p.temperature = -1;
  EXPECT_FALSE(p.Validate().ok());
  p = SamplerParams();
  p.top_p = 1.5f;
  EXPECT_FALSE(p.Validate().ok());
  p = SamplerParams();
  p.min_p = std::nanf("");
  EXPECT_FALSE(p.Validate().ok());
  p = SamplerParams();
  p.penalty_last_n = -1;
  EXPECT_NE(p.Validate().message().find("penalty_last_n"), std::string::npos);
}

}  // namespace
}  // namespace leanlm
