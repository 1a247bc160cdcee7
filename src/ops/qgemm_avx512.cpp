// AVX-512 VNNI half of the integer GEMM (see qmatmul_kernels.h): weight
// panels packed 32 columns × 8 rows at a time (decoded to signed bytes and
// transposed in registers) for Q8_0, Q4_0, Q4_K and Q6_K, the scalar
// unpacker for the other types, and a register tile of 4 activation rows ×
// 32 weight rows: vpdpbusd sums per group of 16 or 32 columns in int32,
// scaled into F32 accumulators at the end of each group. Compiled for
// baseline x86-64; MatMul calls these only when the CPU has AVX512-VNNI.
#include <immintrin.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <cstdint>
#include <cstring>

#include "ops/qmatmul_kernels.h"
#include "ops/vnni_target.h"
#include "quant/formats/kquant_common.h"
#include "quant/formats/q4_0.h"
#include "quant/formats/q4_k.h"
#include "quant/formats/q6_k.h"
#include "quant/formats/q8_0.h"


namespace leanlm {
namespace {

namespace q = quant;

// ---- GEMM packing: 32 columns of 8 rows at a time, transposed in registers ----

// Each P gives, for the 32 columns starting at column j of a row, the signed
// values v (a ymm of int8) and the scale and bias of the 32 / P::kGroup groups.
struct Q8_0Pack {
  static constexpr int kGroup = 32;
  LEANLM_VNNI_INLINE static __m256i Values(const uint8_t* row, int64_t j) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(reinterpret_cast<const q::BlockQ8_0*>(row)[j / 32].qs));
  }
  LEANLM_VNNI_INLINE static void Meta(const uint8_t* row, int64_t j, float* scale, float* bias) {
    scale[0] = _cvtsh_ss(reinterpret_cast<const q::BlockQ8_0*>(row)[j / 32].d);
    bias[0] = 0.0f;
  }
};

struct Q4_0Pack {
  static constexpr int kGroup = 32;
  LEANLM_VNNI_INLINE static __m256i Values(const uint8_t* row, int64_t j) {
    const auto& b = reinterpret_cast<const q::BlockQ4_0*>(row)[j / 32];
    const __m256i t = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs)));
    const __m256i shift = _mm256_set_epi64x(0x0004000400040004, 0x0004000400040004, 0, 0);
    const __m256i u = _mm256_and_si256(_mm256_srlv_epi16(t, shift), _mm256_set1_epi8(0x0f));
    return _mm256_sub_epi8(u, _mm256_set1_epi8(8));
  }
  LEANLM_VNNI_INLINE static void Meta(const uint8_t* row, int64_t j, float* scale, float* bias) {
    scale[0] = _cvtsh_ss(reinterpret_cast<const q::BlockQ4_0*>(row)[j / 32].d);
    bias[0] = 0.0f;
  }
};

struct Q4_KPack {
  static constexpr int kGroup = 32;
  LEANLM_VNNI_INLINE static __m256i Values(const uint8_t* row, int64_t j) {
    const auto& b = reinterpret_cast<const q::BlockQ4_K*>(row)[j / q::kQK_K];
    const int g = static_cast<int>(j % q::kQK_K) / 32;
    const __m256i qs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * (g / 2)));
    return _mm256_and_si256(_mm256_srl_epi16(qs, _mm_cvtsi32_si128(4 * (g % 2))), _mm256_set1_epi8(0x0f));
  }
  LEANLM_VNNI_INLINE static void Meta(const uint8_t* row, int64_t j, float* scale, float* bias) {
    const auto& b = reinterpret_cast<const q::BlockQ4_K*>(row)[j / q::kQK_K];
    uint8_t sc, m;
    q::GetScaleMinK4(static_cast<int>(j % q::kQK_K) / 32, b.scales, &sc, &m);
    scale[0] = _cvtsh_ss(b.d) * sc;
    bias[0] = -(_cvtsh_ss(b.dmin) * m);
  }
};

struct Q6_KPack {
  static constexpr int kGroup = 16;
  LEANLM_VNNI_INLINE static __m256i Values(const uint8_t* row, int64_t j) {
    const auto& b = reinterpret_cast<const q::BlockQ6_K*>(row)[j / q::kQK_K];
    const int idx = static_cast<int>(j % q::kQK_K), half = idx / 128, t = (idx % 128) / 32;
    const __m256i ql = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.ql + 64 * half + 32 * (t & 1)));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh + 32 * half));
    const __m256i lo = _mm256_and_si256(_mm256_srl_epi16(ql, _mm_cvtsi32_si128(4 * (t >> 1))), _mm256_set1_epi8(0x0f));
    const __m256i hi = _mm256_and_si256(_mm256_slli_epi16(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * t)), 4),
                                        _mm256_set1_epi8(0x30));
    return _mm256_sub_epi8(_mm256_or_si256(lo, hi), _mm256_set1_epi8(32));
  }
  LEANLM_VNNI_INLINE static void Meta(const uint8_t* row, int64_t j, float* scale, float* bias) {
    const auto& b = reinterpret_cast<const q::BlockQ6_K*>(row)[j / q::kQK_K];
    const int g = static_cast<int>(j % q::kQK_K) / 16;
    const float d = _cvtsh_ss(b.d);
    scale[0] = d * b.scales[g];
    scale[1] = d * b.scales[g + 1];
    bias[0] = bias[1] = 0.0f;
  }
};

// In-register transpose of 8 × 8 int32: afterwards a[c] holds column c.
LEANLM_VNNI_INLINE void Transpose8x8(__m256i a[8]) {
  __m256 t[8], v[8];
  LEANLM_UNROLL
  for (int p = 0; p < 4; ++p) {
    t[2 * p] = _mm256_unpacklo_ps(_mm256_castsi256_ps(a[2 * p]), _mm256_castsi256_ps(a[2 * p + 1]));
    t[2 * p + 1] = _mm256_unpackhi_ps(_mm256_castsi256_ps(a[2 * p]), _mm256_castsi256_ps(a[2 * p + 1]));
  }
  LEANLM_UNROLL
  for (int q = 0; q < 2; ++q) {
    v[4 * q + 0] = _mm256_shuffle_ps(t[4 * q], t[4 * q + 2], 0x44);
    v[4 * q + 1] = _mm256_shuffle_ps(t[4 * q], t[4 * q + 2], 0xee);
    v[4 * q + 2] = _mm256_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0x44);
    v[4 * q + 3] = _mm256_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0xee);
  }
  LEANLM_UNROLL
  for (int c = 0; c < 4; ++c) {
    a[c] = _mm256_castps_si256(_mm256_permute2f128_ps(v[c], v[4 + c], 0x20));
    a[4 + c] = _mm256_castps_si256(_mm256_permute2f128_ps(v[c], v[4 + c], 0x31));
  }
}

template <class P>
LEANLM_VNNI void QPack(const WeightRef& w, int64_t r0, int64_t rows, int64_t c0, int64_t kc, int nr, uint8_t* dst) {
  if (nr % 8 != 0) return GenericQPackWeights(w, r0, rows, c0, kc, nr, dst);
  constexpr int G = P::kGroup;
  constexpr int kPer32 = 32 / G;  // groups per 32 columns
  const int64_t groups = kc / G;
  const int64_t panels = (rows + nr - 1) / nr;
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int64_t p = 0; p < panels; ++p) {
    uint8_t* panel = dst + p * QPanelBytes(kc, nr, G);
    auto* ps = reinterpret_cast<float*>(panel + kc * nr);
    float* pb = ps + groups * nr;
    auto* pi = reinterpret_cast<int32_t*>(pb + groups * nr);
    for (int h = 0; h < nr; h += 8) {
      const uint8_t* row_ptrs[8];
      LEANLM_UNROLL
      for (int l = 0; l < 8; ++l) {
        const int64_t r = p * nr + h + l;
        row_ptrs[l] = r < rows ? w.row(r0 + r) : nullptr;
      }
      for (int64_t j = 0; j < kc; j += 32) {
        __m256i a[8];
        LEANLM_UNROLL
        for (int l = 0; l < 8; ++l) {
          float scale[kPer32] = {}, bias[kPer32] = {};
          a[l] = _mm256_setzero_si256();
          if (row_ptrs[l] != nullptr) {
            a[l] = P::Values(row_ptrs[l], c0 + j);
            P::Meta(row_ptrs[l], c0 + j, scale, bias);
          }
          // Σ v per 8 bytes as Σ (v + 128) - 1024.
          alignas(32) int64_t sums[4];
          _mm256_store_si256(reinterpret_cast<__m256i*>(sums), _mm256_sad_epu8(_mm256_xor_si256(a[l], flip),
                                                                                 _mm256_setzero_si256()));
          LEANLM_UNROLL
          for (int gg = 0; gg < kPer32; ++gg) {
            int64_t sum = -1024 * (4 / kPer32);
            for (int t = 0; t < 4 / kPer32; ++t) sum += sums[gg * (4 / kPer32) + t];
            const int64_t at = (j / G + gg) * nr + h + l;
            ps[at] = scale[gg];
            pb[at] = bias[gg];
            pi[at] = static_cast<int32_t>(-128 * sum);
          }
        }
        Transpose8x8(a);
        LEANLM_UNROLL
        for (int c = 0; c < 8; ++c) {
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(panel + ((j / 4 + c) * nr + h) * 4), a[c]);
        }
      }
    }
  }
}

// ---- GEMM microkernel: kMr activation rows × kNr weight rows ----

constexpr int kMr = 4;
constexpr int kNr = 32;

template <int G, bool kBias>
LEANLM_VNNI void QMicroKernel(const uint8_t* xp, const uint8_t* wp, int64_t kc, float* c, int64_t ldc, int rows,
                              int cols, bool accumulate) {
  const int64_t groups = kc / G;
  const auto* ps = reinterpret_cast<const float*>(wp + kc * kNr);
  const float* pb = ps + groups * kNr;
  const auto* pi = reinterpret_cast<const int32_t*>(pb + groups * kNr);
  const auto* xd = reinterpret_cast<const float*>(xp + kc * kMr);
  const float* xs = xd + groups * kMr;
  __m512 f[kMr][2];
  LEANLM_UNROLL
  for (int i = 0; i < kMr; ++i) f[i][0] = f[i][1] = _mm512_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    const __m512i init0 = _mm512_loadu_si512(pi + g * kNr), init1 = _mm512_loadu_si512(pi + g * kNr + 16);
    __m512i a[kMr][2];
    LEANLM_UNROLL
    for (int i = 0; i < kMr; ++i) {
      a[i][0] = init0;
      a[i][1] = init1;
    }
    LEANLM_UNROLL
    for (int s = 0; s < G / 4; ++s) {
      const int64_t t = g * (G / 4) + s;
      const __m512i w0 = _mm512_loadu_si512(wp + t * kNr * 4), w1 = _mm512_loadu_si512(wp + t * kNr * 4 + 64);
      const uint8_t* xt = xp + t * kMr * 4;
      LEANLM_UNROLL
      for (int i = 0; i < kMr; ++i) {
        int32_t xv;
        std::memcpy(&xv, xt + 4 * i, 4);
        const __m512i b = _mm512_set1_epi32(xv);
        a[i][0] = _mm512_dpbusd_epi32(a[i][0], b, w0);
        a[i][1] = _mm512_dpbusd_epi32(a[i][1], b, w1);
      }
    }
    const __m512 s0 = _mm512_loadu_ps(ps + g * kNr), s1 = _mm512_loadu_ps(ps + g * kNr + 16);
    LEANLM_UNROLL
    for (int i = 0; i < kMr; ++i) {
      const __m512 dx = _mm512_set1_ps(xd[g * kMr + i]);
      f[i][0] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(a[i][0]), dx), s0, f[i][0]);
      f[i][1] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(a[i][1]), dx), s1, f[i][1]);
    }
    if constexpr (kBias) {
      const __m512 b0 = _mm512_loadu_ps(pb + g * kNr), b1 = _mm512_loadu_ps(pb + g * kNr + 16);
      LEANLM_UNROLL
      for (int i = 0; i < kMr; ++i) {
        const __m512 sx = _mm512_set1_ps(xs[g * kMr + i]);
        f[i][0] = _mm512_fmadd_ps(b0, sx, f[i][0]);
        f[i][1] = _mm512_fmadd_ps(b1, sx, f[i][1]);
      }
    }
  }
  const __mmask16 m0 = cols >= 16 ? __mmask16(0xffff) : __mmask16((1u << cols) - 1);
  const __mmask16 m1 = cols >= 32 ? __mmask16(0xffff) : cols <= 16 ? __mmask16(0) : __mmask16((1u << (cols - 16)) - 1);
  LEANLM_UNROLL
  for (int i = 0; i < kMr; ++i) {
    if (i >= rows) break;
    float* ci = c + i * ldc;
    if (accumulate) {
      f[i][0] = _mm512_add_ps(f[i][0], _mm512_maskz_loadu_ps(m0, ci));
      f[i][1] = _mm512_add_ps(f[i][1], _mm512_maskz_loadu_ps(m1, ci + 16));
    }
    _mm512_mask_storeu_ps(ci, m0, f[i][0]);
    _mm512_mask_storeu_ps(ci + 16, m1, f[i][1]);
  }
}

void QMicroKernelDispatch(const uint8_t* xp, const uint8_t* wp, int64_t kc, int group, bool bias, float* c,
                          int64_t ldc, int rows, int cols, bool accumulate) {
  if (group == 16) {
    return bias ? QMicroKernel<16, true>(xp, wp, kc, c, ldc, rows, cols, accumulate)
                : QMicroKernel<16, false>(xp, wp, kc, c, ldc, rows, cols, accumulate);
  }
  return bias ? QMicroKernel<32, true>(xp, wp, kc, c, ldc, rows, cols, accumulate)
              : QMicroKernel<32, false>(xp, wp, kc, c, ldc, rows, cols, accumulate);
}

}  // namespace

// Types without a SIMD packer of their own pack through the scalar unpacker:
// at 128 activation rows that still measured 2x the F32 path (Q5_K, Q3_K).
QPackWeightsFn Avx512QPackWeights(DType type) {
  switch (type) {
    case DType::kQ8_0: return QPack<Q8_0Pack>;
    case DType::kQ4_0: return QPack<Q4_0Pack>;
    case DType::kQ4_K: return QPack<Q4_KPack>;
    case DType::kQ6_K: return QPack<Q6_KPack>;
    default: return GenericQPackWeights;
  }
}

QGemmKernel Avx512QGemmKernel() { return {kMr, kNr, QMicroKernelDispatch}; }

}  // namespace leanlm
