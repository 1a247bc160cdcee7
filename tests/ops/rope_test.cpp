// RoPE against the complex-number formula: pair (a, b) is z = a + ib, and
// RoPE multiplies it by e^{i pos θ_j}, θ_j = theta^(-2j/rotary_dim) (scaled).
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <numbers>
#include <random>
#include <vector>

#include "ops/rope.h"

namespace leanlm {
namespace {

ModelConfig RopeConfig(int64_t head_dim, int64_t rope_dim, bool neox) {
  ModelConfig c;
  c.n_vocab = 10;
  c.n_embd = 8;
  c.n_layer = 1;
  c.n_head = 2;
  c.n_head_kv = 1;
  c.n_ff = 8;
  c.head_dim = head_dim;
  c.rope_dim = rope_dim;
  c.rope_neox = neox;
  return c;
}

// Rotates x: (n, n_heads, head_dim) in double by complex multiplication.
std::vector<double> Reference(const std::vector<float>& x, const std::vector<double>& theta, int64_t pos0, int64_t n,
                              int64_t n_heads, int64_t head_dim, bool neox) {
  std::vector<double> out(x.begin(), x.end());
  const int64_t half = static_cast<int64_t>(theta.size());
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t h = 0; h < n_heads; ++h) {
      double* row = out.data() + (t * n_heads + h) * head_dim;
      for (int64_t j = 0; j < half; ++j) {
        const int64_t ia = neox ? j : 2 * j, ib = neox ? j + half : 2 * j + 1;
        const std::complex<double> z(row[ia], row[ib]);
        const std::complex<double> r = z * std::polar(1.0, static_cast<double>(pos0 + t) * theta[j]);
        row[ia] = r.real();
        row[ib] = r.imag();
      }
    }
  }
  return out;
}

std::vector<double> PlainTheta(const ModelConfig& c) {
  std::vector<double> theta;
  const double rot = static_cast<double>(c.rotary_dim());
  for (int64_t j = 0; j < c.rotary_dim() / 2; ++j) theta.push_back(std::pow(c.rope_theta, -2.0 * j / rot));
  return theta;
}

void CheckRope(const ModelConfig& c, const std::vector<double>& theta, const float* freq_factors, int64_t pos0) {
  const int64_t n = 5, n_heads = 3, hd = c.head_dim;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::vector<float> x(static_cast<size_t>(n * n_heads * hd));
  for (float& v : x) v = normal(rng);
  const std::vector<double> want = Reference(x, theta, pos0, n, n_heads, hd, c.rope_neox);

  const std::vector<double> inv_freq = RopeInvFreq(c, freq_factors);
  ASSERT_EQ(inv_freq.size(), theta.size());
  for (size_t j = 0; j < theta.size(); ++j) EXPECT_NEAR(inv_freq[j], theta[j], 1e-12 * theta[j]) << j;
  std::vector<float> cs(static_cast<size_t>(n * c.rotary_dim()));
  RopeCosSin(cs.data(), inv_freq, pos0, n);
  ThreadPool pool(2);
  RopeForward(x.data(), cs.data(), n, n_heads, hd, c.rotary_dim(), c.rope_neox, pool);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], want[i], 2e-6) << "element " << i;
}

TEST(Rope, AdjacentPairs) { CheckRope(RopeConfig(16, 0, false), PlainTheta(RopeConfig(16, 0, false)), nullptr, 3); }

TEST(Rope, Halves) { CheckRope(RopeConfig(16, 0, true), PlainTheta(RopeConfig(16, 0, true)), nullptr, 3); }

TEST(Rope, PartialRotaryLeavesTheRest) {
  for (bool neox : {false, true}) {
    const ModelConfig c = RopeConfig(16, 6, neox);
    CheckRope(c, PlainTheta(c), nullptr, 11);
  }
}

TEST(Rope, LargePositionsStayAccurate) {
  ModelConfig c = RopeConfig(64, 0, true);
  c.rope_theta = 500000.0f;
  CheckRope(c, PlainTheta(c), nullptr, 100000);
}

TEST(Rope, LinearScalingDividesPositions) {
  ModelConfig c = RopeConfig(8, 0, false);
  c.rope_scaling = RopeScaling::kLinear;
  c.rope_factor = 4.0f;
  std::vector<double> theta = PlainTheta(c);
  for (double& t : theta) t /= 4.0;
  CheckRope(c, theta, nullptr, 9);
}

// Llama-3.1 scaling, written the way llama.cpp's converter does it (a
// divisor per frequency), against leanlm's HF-style remapping.
TEST(Rope, Llama3ScalingMatchesLlamaCppDivisors) {
  ModelConfig c = RopeConfig(16, 0, true);
  c.rope_theta = 100.0f;
  c.rope_scaling = RopeScaling::kLlama3;
  c.rope_factor = 8.0f;
  c.rope_low_freq_factor = 1.0f;
  c.rope_high_freq_factor = 4.0f;
  c.rope_orig_ctx = 32;
  std::vector<double> theta = PlainTheta(c);
  std::vector<float> divisors;
  int scaled = 0, smoothed = 0;
  for (double& t : theta) {
    const double wavelen = 2 * std::numbers::pi / t;
    double d = 1;
    if (wavelen > 32.0 / 1.0) {
      d = 8;
      ++scaled;
    } else if (wavelen >= 32.0 / 4.0) {
      const double smooth = (32.0 / wavelen - 1.0) / (4.0 - 1.0);
      d = 1 / ((1 - smooth) / 8 + smooth);
      ++smoothed;
    }
    t /= d;
    divisors.push_back(static_cast<float>(d));
  }
  ASSERT_GT(scaled, 0);
  ASSERT_GT(smoothed, 0);
  CheckRope(c, theta, nullptr, 5);

  // The same frequencies from llama.cpp's rope_freqs tensor and no scaling.
  c.rope_scaling = RopeScaling::kNone;
  const std::vector<double> from_tensor = RopeInvFreq(c, divisors.data());
  for (size_t j = 0; j < theta.size(); ++j) EXPECT_NEAR(from_tensor[j], theta[j], 1e-7 * theta[j]) << j;
}

}  // namespace
}  // namespace leanlm
