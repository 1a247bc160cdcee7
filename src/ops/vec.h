// Small float loops shared by the ops, written so that GCC and Clang
// vectorize them at -O2 with the portable baseline ISA: fixed 8-wide inner
// blocks (GCC's -O2 cost model only vectorizes loops of known trip count),
// restrict pointers, and no float compares in the bodies (with trapping math
// they keep GCC from if-converting). The matrix kernels live elsewhere.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>

#include "base/cpu_features.h"

// The ops' hot functions are written once as always_inline bodies and
// compiled twice, for the baseline and with this attribute for AVX2 + FMA;
// UseAvx2() picks one at run time. Wide vectors without a -march flag.
#if defined(__x86_64__)
#define LEANLM_TARGET_AVX2 __attribute__((target("avx2,fma")))
#else
#define LEANLM_TARGET_AVX2
#endif

namespace leanlm::vec {

// Whether to run the AVX2 builds: the project's ActiveCpuLevel(), which
// LEANLM_CPU=scalar lowers for tests and bug reports.
inline bool UseAvx2() {
  static const bool use = ActiveCpuLevel() >= CpuLevel::kAvx2;
  return use;
}

inline constexpr int64_t kBlock = 8;

// exp(x) to about 1 ulp for |x| <= 87; |x| > 87 (and NaN) saturate to ±87,
// so the result is never 0 or inf: callers use it where that is harmless
// (softmax of x - max, sigmoid, tanh).
inline float Exp(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  const uint32_t mag = std::min(bits & 0x7fffffffu, 0x42ae0000u);  // 87.0f
  x = std::bit_cast<float>(mag | (bits & 0x80000000u));
  // x = k ln2 + r with |r| <= ln2/2; round-to-nearest by the 1.5 * 2^23 trick.
  const float k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (x - k * 0.693145751953125f) - k * 1.42860682030941723e-06f;
  float p = 1.0f / 5040;  // Taylor series to r^7: error < 1e-8 on |r| <= ln2/2
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t ki = static_cast<int32_t>(k);
  return p * std::bit_cast<float>(static_cast<uint32_t>(ki + 127) << 23);
}

// sum a[i] * b[i]. Sixteen partial sums: two vectors' worth, so they stay
// in registers at either width.
inline float Dot(const float* __restrict a, const float* __restrict b, int64_t n) {
  constexpr int64_t kLanes = 2 * kBlock;
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int64_t j = 0; j < kLanes; ++j) acc[j] += a[i + j] * b[i + j];
  }
  float sum = 0;
  for (; i < n; ++i) sum += a[i] * b[i];
  float half[kBlock];
  for (int64_t j = 0; j < kBlock; ++j) half[j] = acc[j] + acc[j + kBlock];
  for (int64_t j = 0; j < kBlock; ++j) sum += half[j];
  return sum;
}

// sum x[i]^2
inline float SumSquares(const float* __restrict x, int64_t n) { return Dot(x, x, n); }

// y[i] += a * x[i]
inline void Axpy(float* __restrict y, float a, const float* __restrict x, int64_t n) {
  int64_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    for (int64_t j = 0; j < kBlock; ++j) y[i + j] += a * x[i + j];
  }
  for (; i < n; ++i) y[i] += a * x[i];
}

// y[i] *= a
inline void Scale(float* y, float a, int64_t n) {
  int64_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    for (int64_t j = 0; j < kBlock; ++j) y[i + j] *= a;
  }
  for (; i < n; ++i) y[i] *= a;
}

}  // namespace leanlm::vec
