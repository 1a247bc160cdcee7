// Every fast MatMul path (type × CPU level × decode/prompt shape × threads)
// against MatMulReference, which converts with the scalar to_float and sums in
// double.
//
// Tolerance: the kernels compute the same products exactly (F16/BF16 weights
// are exact in F32; FMA rounds once per step), so the only error is F32
// summation. For any summation order, |ŷ − y| ≤ γ_k · Σ_j |w_j x_j| with
// γ_k = k·u/(1 − k·u), u = 2⁻²⁴ (Higham, Accuracy and Stability, §3.1), plus one
// final rounding of the reference, u·|y|. We check exactly that bound.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/cpu_features.h"
#include "base/fp16.h"
#include "ops/matmul.h"
#include "ops/matmul_kernels.h"
#include "ops/matmul_reference.h"
#include "support/stored_weight.h"

namespace leanlm {
namespace {

using testing::SupportedCpuLevels;

// A weight of m rows of k elements stored as `type`, from uniform [-1, 1).
struct Weight : testing::StoredWeight {
  Weight(DType type, int64_t k, int64_t m, std::mt19937& rng) : StoredWeight(type, k, m, Uniform(k * m, rng)) {}
  static std::vector<float> Uniform(int64_t count, std::mt19937& rng) {
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> src(static_cast<size_t>(count));
    for (float& v : src) v = dist(rng);
    return src;
  }
};

std::vector<float> RandomActivations(int64_t n, int64_t k, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n * k));
  for (float& v : x) v = dist(rng);
  return x;
}

// Checks y against the reference within the summation bound described above.
void ExpectWithinSummationBound(const Weight& w, const std::vector<float>& x, int64_t n, const std::vector<float>& y,
                                const std::vector<float>& ref, const std::string& what) {
  const int64_t k = w.view.cols(), m = w.view.rows();
  const double u = std::ldexp(1.0, -24);
  const double gamma = k * u / (1 - k * u);
  int failures = 0;
  for (int64_t i = 0; i < n && failures < 5; ++i) {
    for (int64_t r = 0; r < m && failures < 5; ++r) {
      double abs_sum = 0;
      for (int64_t j = 0; j < k; ++j) abs_sum += std::fabs(static_cast<double>(w.values[r * k + j]) * x[i * k + j]);
      const double expected = ref[i * m + r];
      const double bound = gamma * abs_sum + u * std::fabs(expected);
      const double got = y[i * m + r];
      if (!(std::fabs(got - expected) <= bound)) {
        ADD_FAILURE() << what << ": y[" << i << "][" << r << "] = " << got << ", reference " << expected
                      << ", bound " << bound;
        ++failures;
      }
    }
  }
}

struct Shape {
  int64_t k, m;
};

// k not a multiple of 16 or 32, m odd; 1100 spans two GEMM depth blocks
// (1024), m = 301 several weight tiles; 1 and 16 are the degenerate ends.
constexpr Shape kShapes[] = {{1, 1}, {16, 1}, {37, 19}, {131, 67}, {300, 97}, {520, 301}, {1100, 75}};
// Decode kernels take up to 4 rows, the GEMM's register tile 14 (AVX-512),
// 6 (AVX2) or 4 (scalar).
constexpr int64_t kBatchSizes[] = {1, 2, 3, 4, 5, 7, 8, 12, 16, 17, 64};

class MatMulTest : public ::testing::TestWithParam<DType> {};

TEST_P(MatMulTest, EveryLevelShapeAndBatchMatchesReference) {
  const DType type = GetParam();
  std::mt19937 rng(1234);
  ThreadPool pool1(1), pool2(2);
  for (const Shape& s : kShapes) {
    const Weight w(type, s.k, s.m, rng);
    for (int64_t n : kBatchSizes) {
      const std::vector<float> x = RandomActivations(n, s.k, rng);
      std::vector<float> ref(static_cast<size_t>(n * s.m));
      MatMulReference(w.view, x.data(), n, ref.data(), pool1);
      for (CpuLevel level : SupportedCpuLevels()) {
        for (ThreadPool* pool : {&pool1, &pool2}) {
          std::vector<float> y(ref.size(), std::nanf(""));
          MatMulAtLevel(level, w.view, x.data(), n, y.data(), *pool);
          const std::string what = std::string(TypeName(type)) + " " + CpuLevelName(level) + " k=" +
                                   std::to_string(s.k) + " m=" + std::to_string(s.m) + " n=" + std::to_string(n) +
                                   " threads=" + std::to_string(pool->size());
          ExpectWithinSummationBound(w, x, n, y, ref, what);
        }
      }
    }
  }
}

// The default entry point runs the active level and agrees with the reference.
TEST_P(MatMulTest, DefaultLevelMatchesReference) {
  const DType type = GetParam();
  std::mt19937 rng(99);
  ThreadPool pool(2);
  const Weight w(type, 2048 + 40, 70, rng);
  for (int64_t n : {1, 9}) {
    const std::vector<float> x = RandomActivations(n, w.view.cols(), rng);
    std::vector<float> ref(static_cast<size_t>(n * 70)), y(ref.size());
    MatMulReference(w.view, x.data(), n, ref.data(), pool);
    MatMul(w.view, x.data(), n, y.data(), pool);
    ExpectWithinSummationBound(w, x, n, y, ref, std::string(TypeName(type)) + " default level");
  }
}

// Rows of zero elements: every output is an empty sum.
TEST_P(MatMulTest, EmptyRowsGiveZeros) {
  std::mt19937 rng(5);
  ThreadPool pool(2);
  const Weight w(GetParam(), 0, 7, rng);
  for (int64_t n : {1, 20}) {
    std::vector<float> y(static_cast<size_t>(n * 7), std::nanf(""));
    for (CpuLevel level : SupportedCpuLevels()) {
      MatMulAtLevel(level, w.view, nullptr, n, y.data(), pool);
      for (float v : y) EXPECT_EQ(v, 0.0f) << CpuLevelName(level) << " n=" << n;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(FloatTypes, MatMulTest, ::testing::Values(DType::kF32, DType::kF16, DType::kBF16),
                         [](const auto& info) { return std::string(TypeName(info.param)); });

// With one-hot activations every product but one is an exact zero, so y must
// equal the weight's value exactly: this checks the SIMD F16 conversions
// (decode and packing) against the scalar reference for all 63,488 finite
// halves, subnormals included.
TEST(MatMulConversionTest, EveryFiniteHalfConvertsExactly) {
  constexpr int64_t k = 16, m = 4096;  // 65,536 weights
  std::vector<uint16_t> halves(static_cast<size_t>(k * m));
  for (size_t i = 0; i < halves.size(); ++i) {
    const auto h = static_cast<uint16_t>(i);
    halves[i] = ((h >> 10) & 0x1f) == 0x1f ? 0 : h;  // inf/nan would poison the zero products
  }
  TensorView w;
  w.data = halves.data();
  w.type = DType::kF16;
  w.n_dims = 2;
  w.ne = {k, m, 1, 1};
  std::vector<float> x(static_cast<size_t>(k * k), 0.0f);  // identity: row i is e_i
  for (int64_t i = 0; i < k; ++i) x[i * k + i] = 1.0f;
  ThreadPool pool(2);
  for (CpuLevel level : SupportedCpuLevels()) {
    for (int64_t n : {int64_t{1}, k}) {  // decode and prompt paths
      std::vector<float> y(static_cast<size_t>(n * m));
      MatMulAtLevel(level, w, x.data(), n, y.data(), pool);
      int failures = 0;
      for (int64_t i = 0; i < n && failures < 5; ++i) {
        for (int64_t r = 0; r < m && failures < 5; ++r) {
          const float want = Fp16ToFp32(halves[r * k + i]);
          if (std::memcmp(&want, &y[i * m + r], 4) != 0 && !(want == 0 && y[i * m + r] == 0)) {
            ADD_FAILURE() << CpuLevelName(level) << " n=" << n << " half 0x" << std::hex << halves[r * k + i]
                          << std::dec << ": got " << y[i * m + r] << ", want " << want;
            ++failures;
          }
        }
      }
    }
  }
}

// A block type with no kernels of its own (32 int8 values and an F32 scale)
// runs through the generic to_float path at every level; registering kernels
// for it makes FindMatMulKernels return them.
constexpr uint32_t kToyTypeId = 250;
constexpr int64_t kToyBlock = 32;
struct ToyBlock {
  float scale;
  int8_t q[kToyBlock];
};
static_assert(sizeof(ToyBlock) == 36);

void ToyToFloat(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const ToyBlock*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = blocks[i / kToyBlock].scale * blocks[i / kToyBlock].q[i % kToyBlock];
}
void ToyFromFloat(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<ToyBlock*>(dst);
  for (int64_t b = 0; b < n / kToyBlock; ++b) {
    float amax = 0;
    for (int64_t i = 0; i < kToyBlock; ++i) amax = std::max(amax, std::fabs(src[b * kToyBlock + i]));
    blocks[b].scale = amax / 127;
    for (int64_t i = 0; i < kToyBlock; ++i) {
      blocks[b].q[i] = static_cast<int8_t>(amax == 0 ? 0 : std::lround(src[b * kToyBlock + i] / blocks[b].scale));
    }
  }
}

TEST(MatMulRegistryTest, BlockTypeWithoutKernelsUsesGenericPath) {
  RegisterType(kToyTypeId, {"toy_q8", kToyBlock, sizeof(ToyBlock), true, ToyToFloat, ToyFromFloat});
  const auto type = static_cast<DType>(kToyTypeId);
  std::mt19937 rng(7);
  ThreadPool pool(2);
  const Weight w(type, 32 * 35, 45, rng);  // 1120 columns: two depth blocks, the second partial
  for (int64_t n : {1, 4, 5, 30}) {
    const std::vector<float> x = RandomActivations(n, w.view.cols(), rng);
    std::vector<float> ref(static_cast<size_t>(n * 45));
    MatMulReference(w.view, x.data(), n, ref.data(), pool);
    for (CpuLevel level : SupportedCpuLevels()) {
      EXPECT_EQ(FindMatMulKernels(type, level).gemv, &GenericGemv);
      std::vector<float> y(ref.size());
      MatMulAtLevel(level, w.view, x.data(), n, y.data(), pool);
      ExpectWithinSummationBound(w, x, n, y, ref, std::string("toy ") + CpuLevelName(level));
    }
  }
  const MatMulKernels own{GenericGemv, kGenericGemvRows, GenericPackWeights};
  RegisterMatMulKernels(type, CpuLevel::kScalar, own);
  for (CpuLevel level : SupportedCpuLevels()) EXPECT_EQ(FindMatMulKernels(type, level).pack, &GenericPackWeights);
}

// Built-in float types have real kernels at every level the CPU supports
// (the AVX-512 level borrows the AVX2 pack).
TEST(MatMulRegistryTest, FloatTypesHaveKernelsAtEveryLevel) {
  for (DType type : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (CpuLevel level : SupportedCpuLevels()) {
      const MatMulKernels kernels = FindMatMulKernels(type, level);
      EXPECT_NE(kernels.gemv, &GenericGemv) << TypeName(type) << " " << CpuLevelName(level);
      EXPECT_NE(kernels.pack, &GenericPackWeights) << TypeName(type) << " " << CpuLevelName(level);
    }
  }
}

}  // namespace
}  // namespace leanlm
