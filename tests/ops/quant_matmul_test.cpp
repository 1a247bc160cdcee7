// The integer path of MatMul for block-quantized weights.
//
// 1. Activation quantization: every value moves by at most d/2 with
//    d = max|x| / 127 per block of 32, and the per-lane data is consistent.
// 2. Unpackers: scale·v + bias reproduces the format's own dequantizer
//    (to_float), so the scalar reference rests on independent code.
// 3. Every level, type, shape, batch size (gemv and GEMM) and thread count
//    against the scalar reference on the same quantized activations. Only
//    the float rounding differs: each of the ~k/4 lane terms is a product of
//    an exact int32 and up to three floats (≤ 4 roundings), then summed, so
//    |ŷ − y| ≤ 2 (γ_k + 4u) Σ_j (|scale v_j| + |bias|) |x̂_j| with x̂ = d·q.
// 4. Against the F32 product of the dequantized weights with unrounded x:
//    the activation rounding adds at most Σ_j |W_j| d_j / 2 (the documented
//    error of the integer path), plus the rounding of 3.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "base/cpu_features.h"
#include "ops/matmul.h"
#include "ops/matmul_kernels.h"
#include "ops/matmul_reference.h"
#include "ops/packed_weights.h"
#include "ops/qmatmul_kernels.h"
#include "ops/quantize_activations.h"
#include "support/stored_weight.h"

namespace leanlm {
namespace {

constexpr DType kTypes[] = {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0,  DType::kQ5_1, DType::kIQ4_NL,
                            DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kQ3_K, DType::kQ2_K, DType::kTQ2_0};

using testing::SupportedCpuLevels;

std::vector<float> Random(int64_t count, std::mt19937& rng, float scale = 1.0f) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(static_cast<size_t>(count));
  for (float& f : v) f = dist(rng);
  return v;
}

// Rows with different magnitudes and an offset, so mins and biases matter.
std::vector<float> ScaledRows(int64_t k, int64_t m, std::mt19937& rng) {
  std::vector<float> src = Random(k * m, rng);
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t j = 0; j < k; ++j) src[r * k + j] = src[r * k + j] * (0.5f + r % 3) + 0.25f * (r % 2);
  }
  return src;
}

struct Weight : testing::StoredWeight {
  WeightRef ref;
  std::vector<float> mag;  // |scale·v| + |bias| per element, from the unpacker

  Weight(DType type, int64_t k, int64_t m, std::mt19937& rng) : StoredWeight(type, k, m, ScaledRows(k, m, rng)) {
    const size_t row_bytes = RowBytes(type, k).value();
    ref = {bytes.data(), row_bytes, k, type};
    const QTypeInfo& info = *FindQTypeInfo(type);
    std::vector<int8_t> v(static_cast<size_t>(k));
    std::vector<float> scale(static_cast<size_t>(k / 16)), bias(scale.size());
    mag.resize(values.size());
    for (int64_t r = 0; r < m; ++r) {
      info.unpack(ref.row(r), 0, k, v.data(), scale.data(), bias.data());
      for (int64_t j = 0; j < k; ++j) {
        const int64_t g = j / info.group;
        mag[r * k + j] = std::fabs(scale[g] * v[j]) + std::fabs(bias[g]);
      }
    }
  }
};

struct Acts {
  std::vector<uint8_t> buffer;
  QuantizedActs q;
  Acts(const std::vector<float>& x, int64_t n, int64_t k, ThreadPool& pool)
      : buffer(QuantizedActsBytes(n, k) + 64) {
    void* aligned = buffer.data() + (64 - reinterpret_cast<uintptr_t>(buffer.data()) % 64) % 64;
    q = QuantizedActsIn(aligned, n, k);
    QuantizeActivations(x.data(), q, pool);
  }
  float xhat(int64_t i, int64_t j) const { return q.d(i, j / kActBlock) * q.q_row(i)[j]; }
};

TEST(QuantizeActivationsTest, RoundsEachBlockWithinHalfAStep) {
  std::mt19937 rng(3);
  ThreadPool pool(2);
  const int64_t n = 7, k = 320;
  std::vector<float> x = Random(n * k, rng, 3.0f);
  for (int64_t j = 0; j < 32; ++j) x[64 + j] = 0.0f;  // an all-zero block
  x[200] = -10.0f;                                    // a block whose extreme is negative
  const Acts a(x, n, k, pool);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t b = 0; b < k / kActBlock; ++b) {
      float amax = 0;
      for (int64_t j = 0; j < kActBlock; ++j) amax = std::max(amax, std::fabs(x[i * k + b * kActBlock + j]));
      const float d = a.q.d(i, b);
      EXPECT_EQ(d, amax / 127.0f) << "row " << i << " block " << b;
      int block_sum = 0, half_sum = 0;
      for (int64_t l = 0; l < kActBlock / kActLane; ++l) {
        const int64_t lane = b * kActBlock / kActLane + l;
        int sum = 0;
        for (int t = 0; t < 4; ++t) {
          const int64_t j = b * kActBlock + 4 * l + t;
          const int qv = a.q.q_row(i)[j];
          sum += qv;
          EXPECT_LE(std::abs(qv), 127);
          EXPECT_LE(std::fabs(x[i * k + j] - d * qv), d * 0.5f * (1 + 1e-5f)) << "row " << i << " value " << j;
        }
        EXPECT_EQ(a.q.dl_row(i)[lane], d);
        EXPECT_EQ(a.q.nls_row(i)[lane], -sum);
        EXPECT_EQ(a.q.sl_row(i)[lane], d * static_cast<float>(sum));
        block_sum += sum;
        half_sum += sum;
        if (l % 4 == 3) {  // the end of 16 values
          EXPECT_EQ(a.q.sg_row(i)[2 * b + l / 4], d * static_cast<float>(half_sum)) << "row " << i << " block " << b;
          half_sum = 0;
        }
      }
      EXPECT_EQ(a.q.sb_row(i)[b], d * static_cast<float>(block_sum));
    }
  }
  EXPECT_EQ(a.q.d(0, 2), 0.0f);
  EXPECT_EQ(a.q.q_row(0)[200], -127);
}

// The shifted lane sums and the interleaved copy follow their definitions in
// quantize_activations.h.
TEST(QuantizeActivationsTest, ShiftedAndInterleavedLayouts) {
  std::mt19937 rng(4);
  const int64_t n = 3, k = 416;  // 3 whole units of 128 and a tail of 32
  const std::vector<float> x = Random(n * k, rng);
  std::vector<uint8_t> buf(QuantizedActsBytes(n, k) + 64);
  void* aligned = buf.data() + (64 - reinterpret_cast<uintptr_t>(buf.data()) % 64) % 64;
  const QuantizedActs q = QuantizedActsIn(aligned, n, k, 3, true);
  ThreadPool pool(2);
  QuantizeActivations(x.data(), q, pool);
  for (int64_t i = 0; i < n; ++i) {
    const int8_t* qi = q.q_row(i);
    for (int64_t lane = 0; lane < k / 4; ++lane) {
      EXPECT_EQ(q.nls_row(i)[lane], -8 * (qi[4 * lane] + qi[4 * lane + 1] + qi[4 * lane + 2] + qi[4 * lane + 3]));
    }
    for (int64_t u = 0; u < k / 128; ++u) {
      for (int64_t b = 0; b < 4; ++b) {
        for (int64_t t = 0; t < 16; ++t) {
          EXPECT_EQ(q.iq_row(i)[128 * u + 16 * b + t], qi[128 * u + 32 * b + t]);
          EXPECT_EQ(q.iq_row(i)[128 * u + 64 + 16 * b + t], qi[128 * u + 32 * b + 16 + t]);
        }
        for (int64_t l = 0; l < 4; ++l) {
          int sum = 0;
          for (int64_t t = 0; t < 4; ++t) sum += qi[128 * u + 32 * b + 4 * l + t] + qi[128 * u + 32 * b + 16 + 4 * l + t];
          EXPECT_EQ(q.inls_row(i)[16 * u + 4 * b + l], -8 * sum);
          EXPECT_EQ(q.idl_row(i)[16 * u + 4 * b + l], q.d(i, 4 * u + b));
        }
      }
    }
  }
}

class QuantMatMulTest : public ::testing::TestWithParam<DType> {};

TEST_P(QuantMatMulTest, UnpackReproducesDequantize) {
  const DType type = GetParam();
  std::mt19937 rng(11);
  const Weight w(type, 1024, 5, rng);
  const QTypeInfo& info = *FindQTypeInfo(type);
  std::vector<int8_t> v(1024);
  std::vector<float> scale(64), bias(64);
  for (int64_t r = 0; r < 5; ++r) {
    // Unpack the second half alone too: c0 must select the right blocks.
    info.unpack(w.ref.row(r), 512, 512, v.data() + 512, scale.data() + 512 / info.group, bias.data() + 512 / info.group);
    info.unpack(w.ref.row(r), 0, 512, v.data(), scale.data(), bias.data());
    for (int64_t j = 0; j < 1024; ++j) {
      const int64_t g = j / info.group;
      const double want = w.values[r * 1024 + j];
      const double got = static_cast<double>(scale[g]) * v[j] + bias[g];
      ASSERT_NEAR(got, want, 4e-7 * (std::fabs(scale[g] * v[j]) + std::fabs(bias[g])) + 1e-30)
          << TypeName(type) << " row " << r << " value " << j;
    }
  }
}

TEST_P(QuantMatMulTest, EveryLevelMatchesScalarReferenceAndF32) {
  const DType type = GetParam();
  const int64_t block = GetTypeTraits(type).block_size;
  std::mt19937 rng(1234);
  ThreadPool pool1(1), pool2(2);
  const double u = std::ldexp(1.0, -24);
  // Depths: one block, an odd number of blocks, and past the GEMM's depth block (1024).
  const int64_t depths[] = {block, block == 32 ? 32 * 17 : 256 * 3, block == 32 ? 32 * 35 : 256 * 5};
  for (int64_t k : depths) {
    const double gamma = (k + 8) * u / (1 - (k + 8) * u);
    for (int64_t m : {int64_t{37}, int64_t{131}}) {
      const Weight w(type, k, m, rng);
      for (int64_t n = 1; n <= 20; n += (n < 6 ? 1 : 7)) {
        const std::vector<float> x = Random(n * k, rng);
        const Acts a(x, n, k, pool1);
        std::vector<float> ref_q(static_cast<size_t>(n * m)), ref_f(ref_q.size());
        ScalarQGemv(w.ref, a.q, ref_q.data(), m, 0, m);
        MatMulReference(w.view, x.data(), n, ref_f.data(), pool1);
        for (CpuLevel level : SupportedCpuLevels()) {
          const QMatMulKernels qk = FindQMatMulKernels(type, level);
          const bool integer = n <= qk.gemv_max_rows || (qk.pack != nullptr && GetQGemmKernel(level).kernel);
          for (ThreadPool* pool : {&pool1, &pool2}) {
            std::vector<float> y(ref_q.size(), std::nanf(""));
            MatMulAtLevel(level, w.view, x.data(), n, y.data(), *pool);
            int failures = 0;
            for (int64_t i = 0; i < n && failures < 5; ++i) {
              for (int64_t r = 0; r < m && failures < 5; ++r) {
                double mag_q = 0, mag_f = 0, step = 0;
                for (int64_t j = 0; j < k; ++j) {
                  mag_q += w.mag[r * k + j] * std::fabs(a.xhat(i, j));
                  mag_f += std::fabs(static_cast<double>(w.values[r * k + j]) * x[i * k + j]);
                  step += std::fabs(w.values[r * k + j]) * a.q.d(i, j / kActBlock) * 0.5;
                }
                const double got = y[i * m + r];
                const double rounding = 2 * (gamma + 4 * u) * mag_q;
                const double bound_q = rounding + 1e-30;
                const double bound_f = integer ? step * (1 + 1e-5) + rounding + gamma * mag_f : gamma * mag_f + u * std::fabs(ref_f[i * m + r]);
                const std::string what = std::string(TypeName(type)) + " " + CpuLevelName(level) +
                                         (integer ? " integer" : " f32") + " k=" + std::to_string(k) +
                                         " m=" + std::to_string(m) + " n=" + std::to_string(n) +
                                         " threads=" + std::to_string(pool->size()) + " y[" + std::to_string(i) +
                                         "][" + std::to_string(r) + "]";
                if (integer && !(std::fabs(got - ref_q[i * m + r]) <= bound_q)) {
                  ADD_FAILURE() << what << " = " << got << ", scalar reference " << ref_q[i * m + r] << ", bound "
                                << bound_q;
                  ++failures;
                }
                if (!(std::fabs(got - ref_f[i * m + r]) <= bound_f)) {
                  ADD_FAILURE() << what << " = " << got << ", F32 product " << ref_f[i * m + r] << ", bound "
                                << bound_f;
                  ++failures;
                }
              }
            }
          }
        }
      }
    }
  }
}

// Weights packed 16 rows at a time (ops/packed_weights.h) give what the
// scalar reference gives on the same quantized activations, within its float
// rounding, for gemv and GEMM batches, partial last panels (m = 48: one and a
// half 32-row panels) and depths past the GEMM's depth block.
TEST_P(QuantMatMulTest, PackedMatchesScalarReference) {
  const DType type = GetParam();
  const int64_t block = GetTypeTraits(type).block_size;
  std::mt19937 rng(77);
  ThreadPool pool1(1), pool2(2);
  const double u = std::ldexp(1.0, -24);
  int checked = 0;
  for (int64_t k : {block, int64_t{block == 32 ? 32 * 37 : 256 * 5}}) {
    const double gamma = (k + 8) * u / (1 - (k + 8) * u);
    for (int64_t m : {int64_t{16}, int64_t{48}, int64_t{96}}) {
      const Weight w(type, k, m, rng);
      if (!CanPackWeight(w.view)) continue;
      std::vector<uint8_t> packed(w.bytes.size());
      PackWeight(w.view, packed.data(), pool2);
      const PackedWeight pw{packed.data(), type, m, k};
      for (int64_t n : {1, 2, 3, 4, 5, 11, 33}) {
        const std::vector<float> x = Random(n * k, rng);
        const Acts a(x, n, k, pool1);
        std::vector<float> ref(static_cast<size_t>(n * m));
        ScalarQGemv(w.ref, a.q, ref.data(), m, 0, m);
        for (ThreadPool* pool : {&pool1, &pool2}) {
          std::vector<float> y(ref.size(), std::nanf(""));
          PackedMatMul(pw, x.data(), n, y.data(), *pool);
          ++checked;
          int failures = 0;
          for (int64_t i = 0; i < n && failures < 5; ++i) {
            for (int64_t r = 0; r < m && failures < 5; ++r) {
              double mag = 0;
              for (int64_t j = 0; j < k; ++j) mag += w.mag[r * k + j] * std::fabs(a.xhat(i, j));
              // The offsets come off through the block sums: one more
              // rounding of a term as large as the product's magnitude.
              const double bound = 2 * (gamma + 8 * u) * mag + 1e-30;
              if (!(std::fabs(y[i * m + r] - ref[i * m + r]) <= bound)) {
                ADD_FAILURE() << TypeName(type) << " packed k=" << k << " m=" << m << " n=" << n
                              << " threads=" << pool->size() << " y[" << i << "][" << r << "] = " << y[i * m + r]
                              << ", scalar reference " << ref[i * m + r] << ", bound " << bound;
                ++failures;
              }
            }
          }
        }
      }
    }
  }
  const bool packable = type == DType::kQ8_0 || type == DType::kQ4_0 || type == DType::kQ2_K ||
                        type == DType::kQ3_K || type == DType::kQ4_K || type == DType::kQ5_K ||
                        type == DType::kQ6_K;
  if (!packable || !CpuLevelSupported(CpuLevel::kAvx512) || !DetectedCpuFeatures().avx512vnni) {
    EXPECT_EQ(checked, 0) << TypeName(type) << " packs without its kernels";
    if (packable) GTEST_SKIP() << "no AVX-512 VNNI: packed kernels not run";
  } else {
    EXPECT_GT(checked, 0) << TypeName(type);
  }
}

// One pass over several packed weights (mixed types, as Q4_K_M's Q, K and V
// can be) gives each weight exactly what PackedMatMul gives it alone (whose
// accuracy the test above checks): the same kernels on the same quantized x.
TEST(PackedMatMulManyTest, EqualsOneWeightAtATime) {
  if (!CpuLevelSupported(CpuLevel::kAvx512) || !DetectedCpuFeatures().avx512vnni) {
    GTEST_SKIP() << "no AVX-512 VNNI: packed kernels not run";
  }
  std::mt19937 rng(5);
  ThreadPool pool(2);
  const int64_t k = 512;
  const Weight a(DType::kQ4_K, k, 32, rng), b(DType::kQ6_K, k, 48, rng), c(DType::kQ8_0, k, 16, rng);
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<PackedWeight> packed;
  for (const Weight* w : {&a, &b, &c}) {
    bytes.emplace_back(w->bytes.size());
    PackWeight(w->view, bytes.back().data(), pool);
    packed.push_back({bytes.back().data(), w->view.type, w->view.rows(), k});
  }
  const PackedWeight* ws[] = {&packed[0], &packed[1], &packed[2]};
  for (int64_t n = 1; n <= 4; ++n) {
    const std::vector<float> x = Random(n * k, rng);
    std::vector<std::vector<float>> many(3), one(3);
    float* ys[3];
    for (int i = 0; i < 3; ++i) {
      many[i].assign(static_cast<size_t>(n * packed[i].rows), std::nanf(""));
      one[i].assign(many[i].size(), std::nanf(""));
      ys[i] = many[i].data();
      PackedMatMul(packed[i], x.data(), n, one[i].data(), pool);
    }
    PackedMatMulMany(ws, ys, 3, x.data(), n, pool);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(many[i], one[i]) << "weight " << i << " n=" << n;
  }
}

// The integer path really is taken (a test of the dispatch, not of speed):
// decode of every type uses an integer gemv, at AVX-512 with VNNI every type
// has its own and the integer GEMM, and at AVX2 the goal types have a gemv.
TEST_P(QuantMatMulTest, DispatchUsesIntegerKernels) {
  const DType type = GetParam();
  for (CpuLevel level : SupportedCpuLevels()) {
    const QMatMulKernels qk = FindQMatMulKernels(type, level);
    ASSERT_NE(qk.gemv, nullptr) << TypeName(type) << " " << CpuLevelName(level);
    EXPECT_GE(qk.gemv_max_rows, 1);
  }
  const bool vnni = CpuLevelSupported(CpuLevel::kAvx512) && DetectedCpuFeatures().avx512vnni;
  if (vnni) {
    EXPECT_NE(FindQMatMulKernels(type, CpuLevel::kAvx512).gemv, &ScalarQGemv) << TypeName(type);
    EXPECT_NE(FindQMatMulKernels(type, CpuLevel::kAvx512).pack, nullptr) << TypeName(type);
  }
  const bool goal = type == DType::kQ8_0 || type == DType::kQ4_0 || type == DType::kQ4_K || type == DType::kQ6_K;
  if (CpuLevelSupported(CpuLevel::kAvx2) && goal) {
    EXPECT_NE(FindQMatMulKernels(type, CpuLevel::kAvx2).gemv, &ScalarQGemv) << TypeName(type);
  }
  if (vnni && goal) {
    EXPECT_NE(FindQMatMulKernels(type, CpuLevel::kAvx512).pack, nullptr) << TypeName(type);
    EXPECT_NE(GetQGemmKernel(CpuLevel::kAvx512).kernel, nullptr);
  }
}

INSTANTIATE_TEST_SUITE_P(BlockTypes, QuantMatMulTest, ::testing::ValuesIn(kTypes),
                         [](const auto& info) { return std::string(TypeName(info.param)); });

// Types without integer kernels keep the F32 path.
TEST(QuantMatMulDispatchTest, FloatAndLeanlmFormatsHaveNoIntegerPath) {
  for (DType type : {DType::kF32, DType::kF16, DType::kBF16, DType::kTQ1_0, static_cast<DType>(200)}) {
    EXPECT_EQ(FindQTypeInfo(type), nullptr);
    EXPECT_EQ(FindQMatMulKernels(type, CpuLevel::kScalar).gemv, nullptr);
  }
}

}  // namespace
}  // namespace leanlm
