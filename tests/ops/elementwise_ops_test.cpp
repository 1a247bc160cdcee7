// RMSNorm, gated activations, softmax, exp, embedding and additions against
// float64 formulas on random inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>
#include <vector>

#include "base/fp16.h"
#include "ops/activation.h"
#include "ops/add.h"
#include "ops/embedding.h"
#include "ops/rmsnorm.h"
#include "ops/softmax.h"
#include "ops/vec.h"

namespace leanlm {
namespace {

std::vector<float> Random(size_t n, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

TEST(Exp, MatchesStdExpAndSaturates) {
  double worst = 0;
  for (double x = -87.0; x <= 87.0; x += 0.0137) {
    const double rel = std::fabs(vec::Exp(static_cast<float>(x)) / std::exp(double{static_cast<float>(x)}) - 1);
    worst = std::max(worst, rel);
  }
  EXPECT_LT(worst, 3e-7);
  EXPECT_EQ(vec::Exp(-1000.0f), vec::Exp(-87.0f));
  EXPECT_EQ(vec::Exp(1000.0f), vec::Exp(87.0f));
  EXPECT_TRUE(std::isfinite(vec::Exp(std::nanf(""))));
}

TEST(RmsNorm, MatchesFormulaAndSavesRstd) {
  const int64_t n = 7, dim = 45;
  const std::vector<float> x = Random(n * dim, 3.0f, 1), w = Random(dim, 1.0f, 2);
  std::vector<float> out(x.size()), rstd(n);
  ThreadPool pool(3);
  RmsNormForward(out.data(), rstd.data(), x.data(), w.data(), n, dim, 1e-5f, pool);
  for (int64_t i = 0; i < n; ++i) {
    double ss = 0;
    for (int64_t j = 0; j < dim; ++j) ss += double{x[i * dim + j]} * x[i * dim + j];
    const double r = 1 / std::sqrt(ss / dim + 1e-5);
    EXPECT_NEAR(rstd[i], r, 1e-6 * r);
    for (int64_t j = 0; j < dim; ++j) EXPECT_NEAR(out[i * dim + j], x[i * dim + j] * r * w[j], 1e-5);
  }
}

double SiluRef(double x) { return x / (1 + std::exp(-x)); }
double GeluTanhRef(double x) {
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
}

TEST(GatedActivation, SiluAndGeluTanh) {
  const int64_t count = 10003;  // not a multiple of the block, several threads
  std::vector<float> gate = Random(count, 4.0f, 3), up = Random(count, 1.0f, 4);
  gate[0] = 100.0f;
  gate[1] = -100.0f;
  gate[2] = 0.0f;
  ThreadPool pool(2);
  for (Activation act : {Activation::kSilu, Activation::kGeluTanh}) {
    std::vector<float> out(count);
    GatedActivationForward(out.data(), gate.data(), up.data(), count, act, pool);
    std::vector<float> in_place = gate;
    GatedActivationForward(in_place.data(), in_place.data(), up.data(), count, act, pool);
    for (int64_t i = 0; i < count; ++i) {
      const double a = act == Activation::kSilu ? SiluRef(gate[i]) : GeluTanhRef(gate[i]);
      EXPECT_NEAR(out[i], a * up[i], 1e-6 * (1 + std::fabs(a * up[i]))) << i;
      EXPECT_EQ(out[i], in_place[i]);
    }
  }
}

TEST(Softmax, MatchesFormulaAndIsStable) {
  for (int64_t n : {1, 7, 8, 300}) {
    std::vector<float> x = Random(n, 5.0f, static_cast<uint32_t>(n));
    x[0] += 1000.0f;  // exp(1000) overflows without the max shift
    std::vector<float> y = x;
    SoftmaxForward(y.data(), n);
    double max = -1e300, sum = 0;
    for (float v : x) max = std::max(max, double{v});
    for (float v : x) sum += std::exp(v - max);
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_NEAR(y[i], std::exp(x[i] - max) / sum, 1e-7) << "n " << n << " i " << i;
      total += y[i];
    }
    EXPECT_NEAR(total, 1.0, 1e-6);
  }
}

TEST(Embedding, RowsOfF32AndF16TablesScaled) {
  const int64_t dim = 12, vocab = 5;
  const std::vector<float> table = Random(dim * vocab, 1.0f, 9);
  std::vector<uint16_t> half(table.size());
  for (size_t i = 0; i < table.size(); ++i) half[i] = Fp32ToFp16(table[i]);
  const std::vector<int32_t> tokens = {4, 0, 4, 2};
  for (DType type : {DType::kF32, DType::kF16}) {
    TensorView t;
    t.type = type;
    t.n_dims = 2;
    t.ne = {dim, vocab, 1, 1};
    t.data = type == DType::kF32 ? static_cast<const void*>(table.data()) : half.data();
    std::vector<float> out(tokens.size() * dim);
    EmbeddingForward(out.data(), t, tokens.data(), static_cast<int64_t>(tokens.size()), 2.5f);
    for (size_t i = 0; i < tokens.size(); ++i) {
      for (int64_t j = 0; j < dim; ++j) {
        const size_t src = static_cast<size_t>(tokens[i] * dim + j);
        const float value = type == DType::kF32 ? table[src] : Fp16ToFp32(half[src]);
        EXPECT_EQ(out[i * dim + j], 2.5f * value);
      }
    }
  }
}

TEST(Add, ResidualAndBias) {
  const int64_t n = 3, m = 11;
  std::vector<float> y = Random(n * m, 1.0f, 10);
  const std::vector<float> x = Random(n * m, 1.0f, 11), b = Random(m, 1.0f, 12);
  std::vector<float> want = y;
  for (int64_t i = 0; i < n * m; ++i) want[i] = y[i] + x[i] + b[i % m];
  AddForward(y.data(), x.data(), n * m);
  BiasForward(y.data(), b.data(), n, m);
  for (int64_t i = 0; i < n * m; ++i) EXPECT_FLOAT_EQ(y[i], want[i]);
}

}  // namespace
}  // namespace leanlm
