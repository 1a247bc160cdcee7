// AVX2 kernels (AVX2 + FMA + F16C: Haswell, Zen 1 and later). Same structure
// as kernels_avx512.cpp with 8-wide vectors; AVX2 has no masked 16-bit loads,
// so row tails go through a small zero-padded copy.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "ops/matmul_kernels.h"

#define LEANLM_AVX2 __attribute__((target("avx2,fma,f16c")))
// Loops over registers must be unrolled for the accumulators to stay in registers.
#define LEANLM_UNROLL _Pragma("GCC unroll 32")
#define LEANLM_AVX2_LAMBDA __attribute__((always_inline, target("avx2,fma,f16c")))
#define LEANLM_AVX2_INLINE inline __attribute__((always_inline, target("avx2,fma,f16c")))

namespace leanlm {
namespace {

// Loads 8 weights starting at column j of a row as F32; LoadTail loads the
// len < 8 that remain and zeros the rest.
struct F32Row {
  static constexpr int kElemBytes = 4;
  LEANLM_AVX2_INLINE static __m256 Load(const uint8_t* row, int64_t j) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + j);
  }
};
struct F16Row {
  static constexpr int kElemBytes = 2;
  LEANLM_AVX2_INLINE static __m256 Load(const uint8_t* row, int64_t j) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * j)));
  }
};
struct Bf16Row {
  static constexpr int kElemBytes = 2;
  LEANLM_AVX2_INLINE static __m256 Load(const uint8_t* row, int64_t j) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * j));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
};

template <class L>
LEANLM_AVX2_INLINE __m256 LoadTail(const uint8_t* row, int64_t j, int64_t len) {
  alignas(32) uint8_t padded[32] = {};
  std::memcpy(padded, row + j * L::kElemBytes, len * L::kElemBytes);
  return L::Load(padded, 0);
}

LEANLM_AVX2_INLINE float ReduceAdd(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Weight rows [r, r + R) against N activation rows, k unrolled U times with
// separate accumulators (R·N·U of them) to hide the FMA latency.
template <class L, int R, int N, int U>
LEANLM_AVX2_INLINE void GemvTile(const WeightRef& w, const float* x, float* y, int64_t ldy, int64_t r) {
  const int64_t k = w.k;
  const uint8_t* rows[R];
  LEANLM_UNROLL
  for (int a = 0; a < R; ++a) rows[a] = w.row(r + a);
  __m256 acc[U][R][N];
  LEANLM_UNROLL
  for (int u = 0; u < U; ++u) {
    LEANLM_UNROLL
    for (int a = 0; a < R; ++a) {
      LEANLM_UNROLL
      for (int i = 0; i < N; ++i) acc[u][a][i] = _mm256_setzero_ps();
    }
  }
  // One 8-column step into accumulator set u; a zero-padded copy past the row end.
  auto step = [&](int64_t j, int u, int64_t len) LEANLM_AVX2_LAMBDA {
    __m256 xv[N];
    LEANLM_UNROLL
    for (int i = 0; i < N; ++i) {
      xv[i] = len == 8 ? _mm256_loadu_ps(x + i * k + j)
                       : LoadTail<F32Row>(reinterpret_cast<const uint8_t*>(x + i * k), j, len);
    }
    LEANLM_UNROLL
    for (int a = 0; a < R; ++a) {
      const __m256 wv = len == 8 ? L::Load(rows[a], j) : LoadTail<L>(rows[a], j, len);
      LEANLM_UNROLL
      for (int i = 0; i < N; ++i) acc[u][a][i] = _mm256_fmadd_ps(wv, xv[i], acc[u][a][i]);
    }
  };
  int64_t j = 0;
  for (; j + 8 * U <= k; j += 8 * U) {
    LEANLM_UNROLL
    for (int u = 0; u < U; ++u) step(j + 8 * u, u, 8);
  }
  for (; j + 8 <= k; j += 8) step(j, 0, 8);
  if (j < k) step(j, 0, k - j);
  LEANLM_UNROLL
  for (int a = 0; a < R; ++a) {
    LEANLM_UNROLL
    for (int i = 0; i < N; ++i) {
      __m256 sum = acc[0][a][i];
      LEANLM_UNROLL
      for (int u = 1; u < U; ++u) sum = _mm256_add_ps(sum, acc[u][a][i]);
      y[i * ldy + r + a] = ReduceAdd(sum);
    }
  }
}

// Tile shapes (see kernels_avx512.cpp): one row at a time for N = 1; for
// N > 1 several rows share each x load, within the 16 ymm registers.
constexpr int GemvRows(int n) { return n == 1 ? 1 : n == 2 ? 4 : n == 3 ? 3 : 2; }
constexpr int GemvUnroll(int n) { return n == 1 ? 4 : 1; }

template <class L, int N>
LEANLM_AVX2 void GemvN(const WeightRef& w, const float* x, float* y, int64_t ldy, int64_t r0, int64_t r1) {
  constexpr int R = GemvRows(N);
  int64_t r = r0;
  for (; r + R <= r1; r += R) GemvTile<L, R, N, GemvUnroll(N)>(w, x, y, ldy, r);
  for (; r < r1; ++r) GemvTile<L, 1, N, GemvUnroll(N)>(w, x, y, ldy, r);
}

// From 5 activation rows on, the GEMM is as fast.
constexpr int kAvx2GemvRows = 4;

template <class L>
void Gemv(const WeightRef& w, const float* x, int64_t n, float* y, int64_t ldy, int64_t r0, int64_t r1) {
  switch (n) {
    case 1: return GemvN<L, 1>(w, x, y, ldy, r0, r1);
    case 2: return GemvN<L, 2>(w, x, y, ldy, r0, r1);
    case 3: return GemvN<L, 3>(w, x, y, ldy, r0, r1);
    default: return GemvN<L, 4>(w, x, y, ldy, r0, r1);
  }
}

// In-register transpose of an 8 × 8 block: afterwards a[c] holds column c.
LEANLM_AVX2_INLINE void Transpose8x8(__m256 a[8]) {
  __m256 t[8], u[8];
  LEANLM_UNROLL
  for (int p = 0; p < 4; ++p) {
    t[2 * p] = _mm256_unpacklo_ps(a[2 * p], a[2 * p + 1]);
    t[2 * p + 1] = _mm256_unpackhi_ps(a[2 * p], a[2 * p + 1]);
  }
  // u[4q + c] lane L: column 4L + c of rows 4q..4q+3.
  for (int q = 0; q < 2; ++q) {
    u[4 * q + 0] = _mm256_shuffle_ps(t[4 * q], t[4 * q + 2], 0x44);
    u[4 * q + 1] = _mm256_shuffle_ps(t[4 * q], t[4 * q + 2], 0xee);
    u[4 * q + 2] = _mm256_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0x44);
    u[4 * q + 3] = _mm256_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0xee);
  }
  LEANLM_UNROLL
  for (int c = 0; c < 4; ++c) {
    a[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
    a[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
  }
}

template <class L>
LEANLM_AVX2 void Pack(const WeightRef& w, int64_t r0, int64_t rows, int64_t c0, int64_t kc, int nr, float* dst) {
  if (nr % 8 != 0) return GenericPackWeights(w, r0, rows, c0, kc, nr, dst);
  const int64_t panels = (rows + nr - 1) / nr;
  for (int64_t p = 0; p < panels; ++p) {
    for (int h = 0; h < nr; h += 8) {
      const uint8_t* row_ptrs[8];
      LEANLM_UNROLL
      for (int l = 0; l < 8; ++l) {
        const int64_t r = p * nr + h + l;
        row_ptrs[l] = r < rows ? w.row(r0 + r) : nullptr;
      }
      float* out = dst + p * kc * nr + h;
      for (int64_t j = 0; j < kc; j += 8) {
        const int64_t len = kc - j < 8 ? kc - j : 8;
        __m256 a[8];
        LEANLM_UNROLL
        for (int l = 0; l < 8; ++l) {
          a[l] = row_ptrs[l] == nullptr ? _mm256_setzero_ps()
                 : len == 8             ? L::Load(row_ptrs[l], c0 + j)
                                        : LoadTail<L>(row_ptrs[l], c0 + j, len);
        }
        Transpose8x8(a);
        LEANLM_UNROLL
        for (int c = 0; c < 8; ++c) {
          if (c < len) _mm256_storeu_ps(out + (j + c) * nr, a[c]);
        }
      }
    }
  }
}

// Register tile: 6 activation rows × 16 weight rows = 12 ymm accumulators,
// two panel loads and one broadcast register.
constexpr int kMr = 6;
constexpr int kNr = 16;

template <int R>
LEANLM_AVX2 void MicroKernel(const float* xp, const float* wp, int64_t kc, float* c, int64_t ldc, int cols,
                             bool accumulate) {
  __m256 c0[R], c1[R];
  LEANLM_UNROLL
  for (int i = 0; i < R; ++i) c0[i] = c1[i] = _mm256_setzero_ps();
  for (int64_t j = 0; j < kc; ++j) {
    const __m256 w0 = _mm256_loadu_ps(wp + j * kNr);
    const __m256 w1 = _mm256_loadu_ps(wp + j * kNr + 8);
    const float* xj = xp + j * kMr;
    LEANLM_UNROLL
    for (int i = 0; i < R; ++i) {
      const __m256 b = _mm256_broadcast_ss(xj + i);
      c0[i] = _mm256_fmadd_ps(w0, b, c0[i]);
      c1[i] = _mm256_fmadd_ps(w1, b, c1[i]);
    }
  }
  alignas(32) float tile[kNr];
  LEANLM_UNROLL
  for (int i = 0; i < R; ++i) {
    float* ci = c + i * ldc;
    if (cols == kNr) {
      if (accumulate) {
        c0[i] = _mm256_add_ps(c0[i], _mm256_loadu_ps(ci));
        c1[i] = _mm256_add_ps(c1[i], _mm256_loadu_ps(ci + 8));
      }
      _mm256_storeu_ps(ci, c0[i]);
      _mm256_storeu_ps(ci + 8, c1[i]);
    } else {
      _mm256_store_ps(tile, c0[i]);
      _mm256_store_ps(tile + 8, c1[i]);
      for (int l = 0; l < cols; ++l) ci[l] = accumulate ? ci[l] + tile[l] : tile[l];
    }
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
    default: return MicroKernel<6>(xp, wp, kc, c, ldc, cols, accumulate);
  }
}

}  // namespace

MatMulKernels Avx2MatMulKernels(DType type) {
  switch (type) {
    case DType::kF32: return {Gemv<F32Row>, kAvx2GemvRows, Pack<F32Row>};
    case DType::kF16: return {Gemv<F16Row>, kAvx2GemvRows, Pack<F16Row>};
    case DType::kBF16: return {Gemv<Bf16Row>, kAvx2GemvRows, Pack<Bf16Row>};
    default: return {};
  }
}

GemmKernel Avx2GemmKernel() { return {kMr, kNr, MicroKernelDispatch, GenericPackX}; }

}  // namespace leanlm
