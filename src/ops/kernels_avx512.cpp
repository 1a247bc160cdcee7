// AVX-512 kernels (F, BW, VL with FMA and F16C: Skylake-X, Zen 4 and later).
// Compiled for baseline x86-64; only the functions marked LEANLM_AVX512 use
// these instructions, and MatMul calls them only when the CPU has them.
#include <immintrin.h>

// GCC 12's AVX-512 intrinsics initialise their "undefined" operands from
// themselves, which -Wmaybe-uninitialized reports at every inlined use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <cstdint>

#include "ops/matmul_kernels.h"

#define LEANLM_AVX512_TARGET "avx512f,avx512bw,avx512vl,avx2,fma,f16c"
#define LEANLM_AVX512 __attribute__((target(LEANLM_AVX512_TARGET)))
#define LEANLM_AVX512_LAMBDA __attribute__((always_inline, target(LEANLM_AVX512_TARGET)))
#define LEANLM_AVX512_INLINE inline __attribute__((always_inline, target(LEANLM_AVX512_TARGET)))
// Loops over registers must be unrolled for the accumulators to stay in registers.
#define LEANLM_UNROLL _Pragma("GCC unroll 32")

namespace leanlm {
namespace {

// Loads 16 weights starting at column j of a row as F32 (exactly: F16 and
// BF16 values are all representable).
struct F32Row {
  LEANLM_AVX512_INLINE static __m512 Load(const uint8_t* row, int64_t j) {
    return _mm512_loadu_ps(row + 4 * j);
  }
  LEANLM_AVX512_INLINE static __m512 LoadMasked(const uint8_t* row, int64_t j, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, row + 4 * j);
  }
};
struct F16Row {
  LEANLM_AVX512_INLINE static __m512 Load(const uint8_t* row, int64_t j) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * j)));
  }
  LEANLM_AVX512_INLINE static __m512 LoadMasked(const uint8_t* row, int64_t j, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, row + 2 * j));
  }
};
struct Bf16Row {
  LEANLM_AVX512_INLINE static __m512 Widen(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  LEANLM_AVX512_INLINE static __m512 Load(const uint8_t* row, int64_t j) {
    return Widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * j)));
  }
  LEANLM_AVX512_INLINE static __m512 LoadMasked(const uint8_t* row, int64_t j, __mmask16 m) {
    return Widen(_mm256_maskz_loadu_epi16(m, row + 2 * j));
  }
};

LEANLM_AVX512_INLINE __mmask16 TailMask(int64_t len) {
  return len >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << len) - 1);
}

// Horizontal sum (GCC 12's _mm512_reduce_add_ps trips -Wmaybe-uninitialized).
LEANLM_AVX512_INLINE float ReduceAdd(__m512 v) {
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4e));  // + the other 256-bit half
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0xb1));  // + the neighbouring 128-bit lane
  __m128 s = _mm512_castps512_ps128(v);
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Weight rows [r, r + R) against N activation rows: R·N accumulators.
template <class L, int R, int N>
LEANLM_AVX512_INLINE void GemvTile(const WeightRef& w, const float* x, float* y, int64_t ldy, int64_t r) {
  const int64_t k = w.k;
  const uint8_t* rows[R];
  LEANLM_UNROLL
  for (int a = 0; a < R; ++a) rows[a] = w.row(r + a);
  __m512 acc[R][N];
  LEANLM_UNROLL
  for (int a = 0; a < R; ++a) {
    LEANLM_UNROLL
    for (int i = 0; i < N; ++i) acc[a][i] = _mm512_setzero_ps();
  }
  // One 16-column step; masked loads past the row end.
  auto step = [&](int64_t j, __mmask16 m, bool full) LEANLM_AVX512_LAMBDA {
    __m512 xv[N];
    LEANLM_UNROLL
    for (int i = 0; i < N; ++i) {
      xv[i] = full ? _mm512_loadu_ps(x + i * k + j) : _mm512_maskz_loadu_ps(m, x + i * k + j);
      // Keep x in a register for all R rows: the compiler would otherwise
      // reload it as a memory operand of each FMA, and loads become the limit.
      if constexpr (R > 1) __asm__("" : "+v"(xv[i]));
    }
    LEANLM_UNROLL
    for (int a = 0; a < R; ++a) {
      const __m512 wv = full ? L::Load(rows[a], j) : L::LoadMasked(rows[a], j, m);
      LEANLM_UNROLL
      for (int i = 0; i < N; ++i) acc[a][i] = _mm512_fmadd_ps(wv, xv[i], acc[a][i]);
    }
  };
  int64_t j = 0;
  for (; j + 16 <= k; j += 16) step(j, 0xffff, true);
  if (j < k) step(j, TailMask(k - j), false);
  LEANLM_UNROLL
  for (int a = 0; a < R; ++a) {
    LEANLM_UNROLL
    for (int i = 0; i < N; ++i) y[i * ldy + r + a] = ReduceAdd(acc[a][i]);
  }
}

// Several weight rows share each x load (x of 2-4 rows no longer fits L1
// for long rows): 4·N accumulators, within the 32 zmm registers.
constexpr int kGemvRows = 4;

template <class L, int N>
LEANLM_AVX512 void GemvN(const WeightRef& w, const float* x, float* y, int64_t ldy, int64_t r0, int64_t r1) {
  int64_t r = r0;
  for (; r + kGemvRows <= r1; r += kGemvRows) GemvTile<L, kGemvRows, N>(w, x, y, ldy, r);
  for (; r < r1; ++r) GemvTile<L, 1, N>(w, x, y, ldy, r);
}

// From 5 activation rows on, the GEMM is as fast: a k-blocked variant of
// these tiles for 5-16 rows reached 90 GFLOP/s from L2 but lost to the GEMM
// from DRAM, whose sequential streams this memory system prefers.
constexpr int kAvx512GemvRows = 4;

template <class L>
void Gemv(const WeightRef& w, const float* x, int64_t n, float* y, int64_t ldy, int64_t r0, int64_t r1) {
  switch (n) {
    // A single row is pure streaming, and the AVX2 kernel's 256-bit loads
    // measured 5-25% faster from DRAM than 512-bit ones on Zen 5.
    case 1: return Avx2MatMulKernels(w.type).gemv(w, x, n, y, ldy, r0, r1);
    case 2: return GemvN<L, 2>(w, x, y, ldy, r0, r1);
    case 3: return GemvN<L, 3>(w, x, y, ldy, r0, r1);
    default: return GemvN<L, 4>(w, x, y, ldy, r0, r1);
  }
}

// In-register transpose of a 16 × 16 block: afterwards a[c] holds column c.
LEANLM_AVX512_INLINE void Transpose16x16(__m512 a[16]) {
  __m512 t[16], u[16];
  LEANLM_UNROLL
  for (int p = 0; p < 8; ++p) {
    t[2 * p] = _mm512_unpacklo_ps(a[2 * p], a[2 * p + 1]);
    t[2 * p + 1] = _mm512_unpackhi_ps(a[2 * p], a[2 * p + 1]);
  }
  // u[4q + c] lane L: column 4L + c of rows 4q..4q+3.
  LEANLM_UNROLL
  for (int q = 0; q < 4; ++q) {
    u[4 * q + 0] = _mm512_shuffle_ps(t[4 * q], t[4 * q + 2], 0x44);
    u[4 * q + 1] = _mm512_shuffle_ps(t[4 * q], t[4 * q + 2], 0xee);
    u[4 * q + 2] = _mm512_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0x44);
    u[4 * q + 3] = _mm512_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0xee);
  }
  LEANLM_UNROLL
  for (int c = 0; c < 4; ++c) {
    const __m512 even_lo = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88);  // lanes 0, 2 of rows 0-7
    const __m512 odd_lo = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xdd);   // lanes 1, 3 of rows 0-7
    const __m512 even_hi = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
    const __m512 odd_hi = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xdd);
    a[0 + c] = _mm512_shuffle_f32x4(even_lo, even_hi, 0x88);
    a[8 + c] = _mm512_shuffle_f32x4(even_lo, even_hi, 0xdd);
    a[4 + c] = _mm512_shuffle_f32x4(odd_lo, odd_hi, 0x88);
    a[12 + c] = _mm512_shuffle_f32x4(odd_lo, odd_hi, 0xdd);
  }
}

// Register tile: 14 activation rows × 32 weight rows = 28 zmm accumulators;
// per depth step two panel loads and 14 broadcasts feed 28 FMAs.
constexpr int kMr = 14;
constexpr int kNr = 32;

template <int R>
LEANLM_AVX512 void MicroKernel(const float* xp, const float* wp, int64_t kc, float* c, int64_t ldc, int cols,
                               bool accumulate) {
  __m512 c0[R], c1[R];
  LEANLM_UNROLL
  for (int i = 0; i < R; ++i) c0[i] = c1[i] = _mm512_setzero_ps();
  for (int64_t j = 0; j < kc; ++j) {
    const __m512 w0 = _mm512_loadu_ps(wp + j * kNr);
    const __m512 w1 = _mm512_loadu_ps(wp + j * kNr + 16);
    const float* xj = xp + j * kMr;
    LEANLM_UNROLL
    for (int i = 0; i < R; ++i) {
      const __m512 b = _mm512_set1_ps(xj[i]);
      c0[i] = _mm512_fmadd_ps(w0, b, c0[i]);
      c1[i] = _mm512_fmadd_ps(w1, b, c1[i]);
    }
  }
  const __mmask16 m0 = TailMask(cols);
  const __mmask16 m1 = TailMask(cols - 16 < 0 ? 0 : cols - 16);
  LEANLM_UNROLL
  for (int i = 0; i < R; ++i) {
    float* ci = c + i * ldc;
    if (accumulate) {
      c0[i] = _mm512_add_ps(c0[i], _mm512_maskz_loadu_ps(m0, ci));
      c1[i] = _mm512_add_ps(c1[i], _mm512_maskz_loadu_ps(m1, ci + 16));
    }
    _mm512_mask_storeu_ps(ci, m0, c0[i]);
    _mm512_mask_storeu_ps(ci + 16, m1, c1[i]);
  }
}

void MicroKernelDispatch(const float* xp, const float* wp, int64_t kc, float* c, int64_t ldc, int rows, int cols,
                         bool accumulate) {
  switch (rows) {
    case 1: return MicroKernel<1>(xp, wp, kc, c, ldc, cols, accumulate);
    case 2: return MicroKernel<2>(xp, wp, kc, c, ldc, cols, accumulate);
    case 3: return MicroKernel<3>(xp, wp, kc, c, ldc, cols, accumulate);
    case 4: return MicroKernel<4>(xp, wp, kc, c, ldc, cols, accumulate);
    case 5: return MicroKernel<5>(xp, wp, kc, c, ldc, cols, accumulate);
    case 6: return MicroKernel<6>(xp, wp, kc, c, ldc, cols, accumulate);
    case 7: return MicroKernel<7>(xp, wp, kc, c, ldc, cols, accumulate);
    case 8: return MicroKernel<8>(xp, wp, kc, c, ldc, cols, accumulate);
    case 9: return MicroKernel<9>(xp, wp, kc, c, ldc, cols, accumulate);
    case 10: return MicroKernel<10>(xp, wp, kc, c, ldc, cols, accumulate);
    case 11: return MicroKernel<11>(xp, wp, kc, c, ldc, cols, accumulate);
    case 12: return MicroKernel<12>(xp, wp, kc, c, ldc, cols, accumulate);
    case 13: return MicroKernel<13>(xp, wp, kc, c, ldc, cols, accumulate);
    default: return MicroKernel<14>(xp, wp, kc, c, ldc, cols, accumulate);
  }
}

// x sliver: 16 columns of up to 16 rows at a time, transposed in registers.
LEANLM_AVX512 void PackX(const float* x, int64_t ldx, int rows, int64_t kc, int mr, float* xp) {
  if (mr > 16) return GenericPackX(x, ldx, rows, kc, mr, xp);
  const __mmask16 row_mask = TailMask(mr);
  for (int64_t j = 0; j < kc; j += 16) {
    const int64_t len = kc - j < 16 ? kc - j : 16;
    const __mmask16 m = TailMask(len);
    __m512 a[16];
    LEANLM_UNROLL
    for (int i = 0; i < 16; ++i) a[i] = i < rows ? _mm512_maskz_loadu_ps(m, x + i * ldx + j) : _mm512_setzero_ps();
    Transpose16x16(a);
    LEANLM_UNROLL
    for (int c = 0; c < 16; ++c) {
      if (c < len) _mm512_mask_storeu_ps(xp + (j + c) * mr, row_mask, a[c]);
    }
  }
}

}  // namespace

MatMulKernels Avx512MatMulKernels(DType type) {
  switch (type) {
    // No pack of its own: the AVX2 one (8 × 8 transposes in ymm) measured
    // ~1.8x faster than 16 × 16 zmm transposes on Zen 5.
    case DType::kF32: return {Gemv<F32Row>, kAvx512GemvRows, nullptr};
    case DType::kF16: return {Gemv<F16Row>, kAvx512GemvRows, nullptr};
    case DType::kBF16: return {Gemv<Bf16Row>, kAvx512GemvRows, nullptr};
    default: return {};
  }
}

GemmKernel Avx512GemmKernel() { return {kMr, kNr, MicroKernelDispatch, PackX}; }

}  // namespace leanlm
