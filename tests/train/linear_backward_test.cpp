// Linear-layer backward: dx = dy · W for weights of every kind (F32 against
// finite differences; F16, BF16 and block formats against a float64 product
// with the dequantized weight) and dW += dyᵀ · x against finite differences.
// Shapes cross the kernels' tile edges (column tiles of 256, depth blocks of
// 256 rows, dW tiles of 128, partial register tiles).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "backward_test_util.h"
#include "base/cpu_features.h"
#include "base/dtype.h"
#include "ops/matmul.h"
#include "support/stored_weight.h"
#include "train/backward.h"

namespace leanlm {
namespace {

using namespace testing_backward;

using leanlm::testing::SupportedCpuLevels;

// A weight of m rows of k elements stored as `type`, and its stored values as F32.
struct Weight : leanlm::testing::StoredWeight {
  Weight(DType type, int64_t k, int64_t m, uint32_t seed)
      : StoredWeight(type, k, m, RandomVec(static_cast<size_t>(k * m), 1.0f, seed)) {}
};

// dx (n, k) = dy (n, m) · W (m, k) in float64.
std::vector<double> DxRef(const std::vector<float>& dy, const std::vector<float>& w, int64_t n, int64_t k, int64_t m) {
  std::vector<double> dx(static_cast<size_t>(n * k), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t r = 0; r < m; ++r) {
      for (int64_t j = 0; j < k; ++j) dx[i * k + j] += static_cast<double>(dy[i * m + r]) * w[r * k + j];
    }
  }
  return dx;
}

// y (n, m) = x (n, k) · Wᵀ in float64.
std::vector<double> LinearRef(const std::vector<double>& x, const std::vector<double>& w, int64_t n, int64_t k,
                              int64_t m) {
  std::vector<double> y(static_cast<size_t>(n * m), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t r = 0; r < m; ++r) {
      double s = 0;
      for (int64_t j = 0; j < k; ++j) s += x[i * k + j] * w[r * k + j];
      y[i * m + r] = s;
    }
  }
  return y;
}

TEST(LinearBackward, F32MatchesFiniteDifferences) {
  const int64_t n = 7, k = 45, m = 29;
  ThreadPool pool(2);
  const Weight w(DType::kF32, k, m, 31);
  const auto xf = RandomVec(n * k, 1.0f, 32), dyf = RandomVec(n * m, 1.0f, 33);
  std::vector<float> y(n * m);
  MatMul(w.view, xf.data(), n, y.data(), pool);
  std::vector<double> x = ToDouble(xf), wd = ToDouble(w.values), dy = ToDouble(dyf);
  ExpectClose(y, LinearRef(x, wd, n, k, m), 1e-5, "forward");
  auto loss = [&] { return Dot(dy, LinearRef(x, wd, n, k, m)); };
  const auto dx_fd = NumericGrad(x, loss), dw_fd = NumericGrad(wd, loss);

  std::vector<float> dx(n * k, 1e30f), dw(m * k, 0.0f);
  LinearBackwardInput(dx.data(), dyf.data(), w.view, n, false, pool);
  LinearBackwardWeight(dw.data(), dyf.data(), xf.data(), n, k, m, pool);
  ExpectClose(dx, dx_fd, 1e-5, "dx");
  ExpectClose(dw, dw_fd, 1e-5, "dw");

  // accumulate: += on top of what dx and dw held.
  std::vector<float> dx2(n * k, 2.0f), dw2(m * k, -1.0f);
  LinearBackwardInput(dx2.data(), dyf.data(), w.view, n, true, pool);
  LinearBackwardWeight(dw2.data(), dyf.data(), xf.data(), n, k, m, pool);
  for (auto& v : dx2) v -= 2.0f;
  for (auto& v : dw2) v += 1.0f;
  ExpectClose(dx2, dx_fd, 1e-5, "dx accumulated");
  ExpectClose(dw2, dw_fd, 1e-5, "dw accumulated");

  // Sharpness: the transposed product (dy · Wᵀ in the wrong order) is caught.
  std::vector<double> wrong(n * k, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < k; ++j) {
      for (int64_t r = 0; r < m; ++r) wrong[i * k + j] += dy[i * m + r] * wd[(j % m) * k + r % k];
    }
  }
  EXPECT_GT(RelError(wrong, dx_fd), 1e-2);
}

struct DxCase {
  DType type;
  int64_t n, k, m;
};

class LinearBackwardInputTest : public ::testing::TestWithParam<DxCase> {};

TEST_P(LinearBackwardInputTest, MatchesDequantizedReference) {
  const DxCase c = GetParam();
  const Weight w(c.type, c.k, c.m, 41);
  const auto dyf = RandomVec(c.n * c.m, 1.0f, 42);
  const auto ref = DxRef(dyf, w.values, c.n, c.k, c.m);
  for (CpuLevel level : SupportedCpuLevels()) {  // each level's microkernel has its own register tile
    for (int threads : {1, 3}) {
      ThreadPool pool(threads);
      std::vector<float> dx(c.n * c.k, 1e30f);
      LinearBackwardInputAtLevel(level, dx.data(), dyf.data(), w.view, c.n, false, pool);
      ExpectClose(dx, ref, 1e-5,
                  std::string(TypeName(c.type)) + " " + CpuLevelName(level) + " threads " + std::to_string(threads));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, LinearBackwardInputTest,
                         ::testing::Values(DxCase{DType::kF32, 1, 300, 70}, DxCase{DType::kF32, 13, 513, 300},
                                           DxCase{DType::kF16, 5, 96, 40}, DxCase{DType::kBF16, 9, 64, 33},
                                           DxCase{DType::kQ8_0, 1, 96, 17}, DxCase{DType::kQ8_0, 11, 800, 301},
                                           DxCase{DType::kQ4_0, 6, 256, 20}, DxCase{DType::kQ4_K, 1, 256, 9},
                                           DxCase{DType::kQ4_K, 20, 768, 270}, DxCase{DType::kQ6_K, 7, 512, 30},
                                           DxCase{DType::kQ2_K, 3, 256, 12}));

TEST(LinearBackward, WeightGradientAcrossTiles) {
  // n > the 256-token depth block, m and k past the 128 tile edges.
  const int64_t n = 300, k = 135, m = 130;
  ThreadPool pool(3);
  const auto xf = RandomVec(n * k, 1.0f, 51), dyf = RandomVec(n * m, 1.0f, 52);
  std::vector<double> ref(m * k, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t r = 0; r < m; ++r) {
      for (int64_t j = 0; j < k; ++j) ref[r * k + j] += static_cast<double>(dyf[i * m + r]) * xf[i * k + j];
    }
  }
  for (CpuLevel level : SupportedCpuLevels()) {
    std::vector<float> dw(m * k, 0.0f);
    LinearBackwardWeightAtLevel(level, dw.data(), dyf.data(), xf.data(), n, k, m, pool);
    ExpectClose(dw, ref, 1e-5, std::string("dw ") + CpuLevelName(level));
  }
}

}  // namespace
}  // namespace leanlm
