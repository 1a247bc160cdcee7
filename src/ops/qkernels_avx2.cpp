// AVX2 kernels of the integer path: gemv for Q8_0, Q4_0, Q4_K and Q6_K (the
// other types use the scalar reference at this level, and prompt processing
// the F32 GEMM). Same scheme as qkernels_avx512.cpp at 32 values per step:
// vpmaddubsw multiplies unsigned weight bytes by the signed activation quants
// into int16 pairs (no saturation: weights < 64, |q| ≤ 127, except Q8_0,
// which uses |w| × sign(q, w)), vpmaddwd widens them to the int32 lanes of
// QuantizedActs, which then scale exactly as on AVX-512.
#include <immintrin.h>

// The decoders' trait constants (kShift, ...) are read only in `if constexpr`
// of the templates, which clang 14 does not count as a use.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wunused-const-variable"
#endif

#include <cstdint>
#include <cstring>

#include "ops/qmatmul_kernels.h"
#include "quant/formats/kquant_common.h"
#include "quant/formats/q4_0.h"
#include "quant/formats/q4_k.h"
#include "quant/formats/q6_k.h"
#include "quant/formats/q8_0.h"

#define LEANLM_Q_AVX2 __attribute__((target("avx2,fma,f16c")))
#define LEANLM_Q_AVX2_INLINE inline __attribute__((always_inline, target("avx2,fma,f16c")))
#define LEANLM_Q_AVX2_LAMBDA __attribute__((always_inline, target("avx2,fma,f16c")))
#define LEANLM_UNROLL _Pragma("GCC unroll 32")

namespace leanlm {
namespace {

namespace q = quant;

LEANLM_Q_AVX2_INLINE float ReduceAdd(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

LEANLM_Q_AVX2_INLINE __m256i Load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// [lo nibbles, hi nibbles] of 16 bytes: values 0-31 of a Q4_0 block.
LEANLM_Q_AVX2_INLINE __m256i Nibbles16(const uint8_t* p) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i m = _mm_set1_epi8(0x0f);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), m), _mm_and_si128(b, m));
}

// Decoders call s(j, w, scale, slot) per 32 values, w unsigned (weight =
// scale · (w - 2^kShift)) or, with kSigned, signed; K-quants with mins also
// call bias(j, b) per 32 values (b times the lane sums d·Σq).
struct Q8_0Dec {
  static constexpr int kShift = -1;
  static constexpr bool kSigned = true;
  template <class S, class B>
  LEANLM_Q_AVX2_INLINE static void Row(const uint8_t* row, int64_t k, S&& s, B&&) {
    const auto* b = reinterpret_cast<const q::BlockQ8_0*>(row);
    int64_t i = 0;
    for (; i + 2 <= k / 32; i += 2) {
      s(i * 32, Load32(b[i].qs), _mm256_set1_ps(_cvtsh_ss(b[i].d)), 0);
      s(i * 32 + 32, Load32(b[i + 1].qs), _mm256_set1_ps(_cvtsh_ss(b[i + 1].d)), 1);
    }
    if (i < k / 32) s(i * 32, Load32(b[i].qs), _mm256_set1_ps(_cvtsh_ss(b[i].d)), 0);
  }
};

struct Q4_0Dec {
  static constexpr int kShift = 3;
  static constexpr bool kSigned = false;
  template <class S, class B>
  LEANLM_Q_AVX2_INLINE static void Row(const uint8_t* row, int64_t k, S&& s, B&&) {
    const auto* b = reinterpret_cast<const q::BlockQ4_0*>(row);
    int64_t i = 0;
    for (; i + 2 <= k / 32; i += 2) {
      s(i * 32, Nibbles16(b[i].qs), _mm256_set1_ps(_cvtsh_ss(b[i].d)), 0);
      s(i * 32 + 32, Nibbles16(b[i + 1].qs), _mm256_set1_ps(_cvtsh_ss(b[i + 1].d)), 1);
    }
    if (i < k / 32) s(i * 32, Nibbles16(b[i].qs), _mm256_set1_ps(_cvtsh_ss(b[i].d)), 0);
  }
};

struct Q4_KDec {
  static constexpr int kShift = -1;
  static constexpr bool kSigned = false;
  template <class S, class B>
  LEANLM_Q_AVX2_INLINE static void Row(const uint8_t* row, int64_t k, S&& s, B&& bias) {
    const auto* blocks = reinterpret_cast<const q::BlockQ4_K*>(row);
    const __m256i m = _mm256_set1_epi8(0x0f);
    for (int64_t i = 0; i < k / q::kQK_K; ++i) {
      const q::BlockQ4_K& b = blocks[i];
      const float d = _cvtsh_ss(b.d), dmin = _cvtsh_ss(b.dmin);
      LEANLM_UNROLL
      for (int p = 0; p < 4; ++p) {
        const __m256i qs = Load32(b.qs + 32 * p);
        LEANLM_UNROLL
        for (int h = 0; h < 2; ++h) {
          uint8_t sc, mn;
          q::GetScaleMinK4(2 * p + h, b.scales, &sc, &mn);
          const int64_t j = i * q::kQK_K + 64 * p + 32 * h;
          bias(j, _mm256_set1_ps(-(dmin * mn)));
          const __m256i u = h == 0 ? _mm256_and_si256(qs, m) : _mm256_and_si256(_mm256_srli_epi16(qs, 4), m);
          s(j, u, _mm256_set1_ps(d * sc), h);
        }
      }
    }
  }
};

struct Q6_KDec {
  static constexpr int kShift = 5;
  static constexpr bool kSigned = false;
  template <class S, class B>
  LEANLM_Q_AVX2_INLINE static void Row(const uint8_t* row, int64_t k, S&& s, B&&) {
    const auto* blocks = reinterpret_cast<const q::BlockQ6_K*>(row);
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(0x30);
    for (int64_t i = 0; i < k / q::kQK_K; ++i) {
      const q::BlockQ6_K& b = blocks[i];
      const float d = _cvtsh_ss(b.d);
      LEANLM_UNROLL
      for (int half = 0; half < 2; ++half) {
        const __m256i qh = Load32(b.qh + 32 * half);
        LEANLM_UNROLL
        for (int t = 0; t < 4; ++t) {  // values 128·half + 32t + l
          const __m256i ql = Load32(b.ql + 64 * half + 32 * (t & 1));
          const __m256i lo = _mm256_and_si256(t < 2 ? ql : _mm256_srli_epi16(ql, 4), m4);
          const __m256i hi = _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(qh, 2 * t), 4), m2);
          const int g = 8 * half + 2 * t;
          const __m256 scale = _mm256_set_m128(_mm_set1_ps(d * b.scales[g + 1]), _mm_set1_ps(d * b.scales[g]));
          s(i * q::kQK_K + 128 * half + 32 * t, _mm256_or_si256(lo, hi), scale, t & 1);
        }
      }
    }
  }
};

template <class D, int N>
LEANLM_Q_AVX2 void QGemvN(const WeightRef& w, const QuantizedActs& x, float* y, int64_t ldy, int64_t r0, int64_t r1) {
  const int64_t k = w.k;
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t r = r0; r < r1; ++r) {
    __m256 acc[N][2], accb[N];
    LEANLM_UNROLL
    for (int i = 0; i < N; ++i) acc[i][0] = acc[i][1] = accb[i] = _mm256_setzero_ps();
    auto step = [&](int64_t j, __m256i wv, __m256 scale, int slot) LEANLM_Q_AVX2_LAMBDA {
      LEANLM_UNROLL
      for (int i = 0; i < N; ++i) {
        const __m256i xq = Load32(x.q_row(i) + j);
        __m256i t;
        if constexpr (D::kSigned) {
          t = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(xq, wv)), ones);
        } else {
          t = _mm256_madd_epi16(_mm256_maddubs_epi16(wv, xq), ones);
          if constexpr (D::kShift >= 0) t = _mm256_add_epi32(t, Load32(x.nls_row(i) + j / 4));
        }
        const __m256 dl = _mm256_loadu_ps(x.dl_row(i) + j / 4);
        acc[i][slot] = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(t), dl), scale, acc[i][slot]);
      }
    };
    auto bias = [&](int64_t j, __m256 b) LEANLM_Q_AVX2_LAMBDA {
      LEANLM_UNROLL
      for (int i = 0; i < N; ++i) accb[i] = _mm256_fmadd_ps(b, _mm256_loadu_ps(x.sl_row(i) + j / 4), accb[i]);
    };
    const uint8_t* row = w.row(r);
    for (int64_t o = 0; o < 1024; o += 64) _mm_prefetch(reinterpret_cast<const char*>(row) + w.row_bytes + o, _MM_HINT_T0);
    D::Row(row, k, step, bias);
    LEANLM_UNROLL
    for (int i = 0; i < N; ++i) y[i * ldy + r] = ReduceAdd(_mm256_add_ps(_mm256_add_ps(acc[i][0], acc[i][1]), accb[i]));
  }
}

template <class D>
void QGemv(const WeightRef& w, const QuantizedActs& x, float* y, int64_t ldy, int64_t r0, int64_t r1) {
  if (!WithGemvRows(x.n, [&](auto rows) { QGemvN<D, rows>(w, x, y, ldy, r0, r1); })) {
    ScalarQGemv(w, x, y, ldy, r0, r1);
  }
}

}  // namespace

QMatMulKernels Avx2QMatMulKernels(DType type) {
  switch (type) {
    case DType::kQ8_0: return {QGemv<Q8_0Dec>, kQGemvMaxRows, nullptr, 0};
    case DType::kQ4_0: return {QGemv<Q4_0Dec>, kQGemvMaxRows, nullptr, Q4_0Dec::kShift};
    case DType::kQ4_K: return {QGemv<Q4_KDec>, kQGemvMaxRows, nullptr, 0};
    case DType::kQ6_K: return {QGemv<Q6_KDec>, kQGemvMaxRows, nullptr, Q6_KDec::kShift};
    default: return {};
  }
}

}  // namespace leanlm
