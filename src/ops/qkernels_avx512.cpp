// AVX-512 VNNI kernels of the integer path (vpdpbusd: unsigned × signed bytes
// summed in fours into int32 lanes). Compiled for baseline x86-64; only
// functions marked LEANLM_VNNI use these instructions, and MatMul registers
// them only when the CPU has AVX512-VNNI.
//
// gemv: each weight row is decoded 64 values at a time into unsigned bytes u
// (weight = scale · (u - offset) + bias), in the natural value order, so the
// activation quants and their per-lane data (QuantizedActs) load directly:
//   lane int32   a = Σ u·q - offset · Σ q      (vpdpbusd onto nls = -offset · Σ q)
//   row sum     += a · d_lane · scale_lane  (+ per block: bias · d · Σ q)
// GEMM: register tile of 4 activation rows × 32 weight rows over the int8
// panels of qmatmul_kernels.h, int32 sums per group scaled into F32.
#include <immintrin.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "ops/qmatmul_kernels.h"
#include "quant/formats/kquant_common.h"
#include "quant/formats/q4_0.h"
#include "quant/formats/q4_k.h"
#include "quant/formats/q5_k.h"
#include "quant/formats/q6_k.h"
#include "quant/formats/q8_0.h"

#define LEANLM_VNNI_TARGET "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
#define LEANLM_VNNI __attribute__((target(LEANLM_VNNI_TARGET)))
#define LEANLM_VNNI_INLINE inline __attribute__((always_inline, target(LEANLM_VNNI_TARGET)))
#define LEANLM_VNNI_LAMBDA __attribute__((always_inline, target(LEANLM_VNNI_TARGET)))
#define LEANLM_UNROLL _Pragma("GCC unroll 32")

namespace leanlm {
namespace {

namespace q = quant;

LEANLM_VNNI_INLINE float ReduceAdd(__m512 v) {
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4e));
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0xb1));
  __m128 s = _mm512_castps512_ps128(v);
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

LEANLM_VNNI_INLINE uint16_t Load16(const void* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// [h0 × 8 lanes, h1 × 8 lanes] from two fp16 scales.
LEANLM_VNNI_INLINE __m512 Scales2(uint16_t h0, uint16_t h1) {
  const __m256i h = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(static_cast<short>(h0))),
                                            _mm_set1_epi16(static_cast<short>(h1)), 1);
  return _mm512_cvtph_ps(h);
}

// Per-word shift counts: 0 in the low 256 bits, s in the high ones.
LEANLM_VNNI_INLINE __m512i HighHalfShift(int s) {
  return _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(static_cast<short>(s)), 1);
}

// ---- Weight decoders ----
//
// A decoder splits a row into units of kUnit values (four 32-value blocks or
// one 256-value super-block) and calls, for each 64 values of unit `index`,
// f(j, u, scale, lanes, slot): column j, the unsigned weight bytes (weight =
// scale · (u - 2^kShift)), the lanes in use and an accumulator slot (0/1,
// alternated so consecutive chunks do not wait on one FMA chain). Decoders
// with kBias also call fb(j, bias, blocks) once per unit with the additive
// term of each 32-value block from j on (fb dots it with the activation block
// sums). Tail() covers the columns past the last whole unit.

// Pairs of 32-value blocks; Derived::Decode(b, blocks, &u, &scale) decodes
// blocks b[0] and (if blocks == 2) b[1].
template <class Block, class Derived>
struct PairDec {
  static constexpr int64_t kUnit = 128;
  static constexpr int64_t kUnitBytes = 4 * sizeof(Block);
  static constexpr bool kBias = false;
  static constexpr bool kInterleaved = false;
  template <class F, class FB, class FP>
  LEANLM_VNNI_INLINE static void Unit(const uint8_t* row, int64_t index, F&& f, FB&&, FP&&) {
    const auto* b = reinterpret_cast<const Block*>(row) + 4 * index;
    __m512i u;
    __m512 scale;
    Derived::Decode(b, 2, &u, &scale);
    f(index * kUnit, u, scale, __mmask16(0xffff), 0);
    Derived::Decode(b + 2, 2, &u, &scale);
    f(index * kUnit + 64, u, scale, __mmask16(0xffff), 1);
  }
  template <class F, class FB, class FP>
  LEANLM_VNNI_INLINE static void Tail(const uint8_t* row, int64_t k, F&& f, FB&& fb, FP&&) {
    PairTail(row, k / kUnit * 4, k, f, fb);
  }
  // Blocks [i, k / 32) in pairs, natural order.
  template <class F, class FB>
  LEANLM_VNNI_INLINE static void PairTail(const uint8_t* row, int64_t i, int64_t k, F&& f, FB&&) {
    const auto* b = reinterpret_cast<const Block*>(row);
    __m512i u;
    __m512 scale;
    for (; i + 2 <= k / 32; i += 2) {
      Derived::Decode(b + i, 2, &u, &scale);
      f(i * 32, u, scale, __mmask16(0xffff), 0);
    }
    if (i < k / 32) {
      Derived::Decode(b + i, 1, &u, &scale);
      f(i * 32, u, scale, __mmask16(0x00ff), 1);
    }
  }
};

struct Q8_0Dec : PairDec<q::BlockQ8_0, Q8_0Dec> {
  static constexpr int kShift = 7;  // offset 128: u = q ^ 0x80
  LEANLM_VNNI_INLINE static void Decode(const q::BlockQ8_0* b, int blocks, __m512i* u, __m512* scale) {
    const __m256i q0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[0].qs));
    const __m256i q1 =
        blocks == 2 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[1].qs)) : _mm256_setzero_si256();
    *u = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1),
                          _mm512_set1_epi8(static_cast<char>(0x80)));
    *scale = Scales2(b[0].d, blocks == 2 ? b[1].d : 0);
  }
};

// Word indices into two Q4_0 blocks (9 words each: d, then 8 words of
// nibbles): the nibbles of block 0 twice, then those of block 1 twice; and
// d0 eight times, then d1 eight times.
alignas(64) constexpr uint16_t kQ4_0Nibbles[32] = {1,  2,  3,  4,  5,  6,  7,  8,  1,  2,  3,  4,  5,  6,  7,  8,
                                                   10, 11, 12, 13, 14, 15, 16, 17, 10, 11, 12, 13, 14, 15, 16, 17};
alignas(64) constexpr uint16_t kQ4_0Scales[32] = {0, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9,
                                                  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

struct Q4_0Dec : PairDec<q::BlockQ4_0, Q4_0Dec> {
  static constexpr int kShift = 3;  // offset 8
  // One masked load of both blocks, then word permutes: u = [lo(q0), hi(q0),
  // lo(q1), hi(q1)] (values 0-31 of each block in order) and the scales.
  LEANLM_VNNI_INLINE static void Decode(const q::BlockQ4_0* b, int blocks, __m512i* u, __m512* scale) {
    const __m512i raw = _mm512_maskz_loadu_epi16(blocks == 2 ? 0x3ffff : 0x1ff, b);
    const __m512i t = _mm512_permutexvar_epi16(_mm512_load_si512(kQ4_0Nibbles), raw);
    const __m512i shift = _mm512_set_epi64(0x0004000400040004, 0x0004000400040004, 0, 0, 0x0004000400040004,
                                           0x0004000400040004, 0, 0);
    *u = _mm512_and_si512(_mm512_srlv_epi16(t, shift), _mm512_set1_epi8(0x0f));
    *scale = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(_mm512_load_si512(kQ4_0Scales), raw)));
  }
};

// Q4_0 against interleaved activations (QuantizedActs::interleaved): per
// 128 values, one permute gathers the 64 nibble bytes of four blocks, whose
// low and high nibbles line up with the two interleaved halves of x, so both
// halves accumulate into the same int32 lanes before one scaling. Two units
// per call, for the two accumulator slots.
alignas(64) constexpr uint16_t kQ4_0Quad[32] = {1,  2,  3,  4,  5,  6,  7,  8,  10, 11, 12, 13, 14, 15, 16, 17,
                                                19, 20, 21, 22, 23, 24, 25, 26, 28, 29, 30, 31, 32, 33, 34, 35};
alignas(64) constexpr uint16_t kQ4_0QuadScales[32] = {0, 0, 0, 0, 9, 9, 9, 9, 18, 18, 18, 18, 27, 27, 27, 27,
                                                      0, 0, 0, 0, 0, 0, 0, 0, 0,  0,  0,  0,  0,  0,  0,  0};

struct Q4_0IDec {
  static constexpr int64_t kUnit = 256;
  static constexpr int64_t kUnitBytes = 8 * sizeof(q::BlockQ4_0);
  static constexpr int kShift = 3;
  static constexpr bool kBias = false;
  static constexpr bool kInterleaved = true;
  template <class F, class FB, class FP>
  LEANLM_VNNI_INLINE static void Unit(const uint8_t* row, int64_t index, F&&, FB&&, FP&& fp) {
    LEANLM_UNROLL
    for (int h = 0; h < 2; ++h) {
      const uint8_t* b = row + (2 * index + h) * 4 * sizeof(q::BlockQ4_0);
      const __m512i lo = _mm512_loadu_si512(b);
      const __m512i hi = _mm512_maskz_loadu_epi16(0xf, b + 64);
      const __m512i t = _mm512_permutex2var_epi16(lo, _mm512_load_si512(kQ4_0Quad), hi);
      const __m512i mask = _mm512_set1_epi8(0x0f);
      const __m512 scale =
          _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(_mm512_load_si512(kQ4_0QuadScales), lo)));
      fp((2 * index + h) * 128, _mm512_and_si512(t, mask), _mm512_and_si512(_mm512_srli_epi16(t, 4), mask), scale, h);
    }
  }
  template <class F, class FB, class FP>
  LEANLM_VNNI_INLINE static void Tail(const uint8_t* row, int64_t k, F&& f, FB&& fb, FP&&) {
    Q4_0Dec::PairTail(row, k / kUnit * 8, k, f, fb);
  }
};

// The 8 6-bit scales and 8 mins of a Q4_K/Q5_K super-block as bytes:
// out[0..7] = scales, out[8..15] = mins (the layout of GetScaleMinK4).
LEANLM_VNNI_INLINE __m128i K4ScalesMins(const uint8_t* s) {
  uint32_t u0, u1, u2;
  std::memcpy(&u0, s, 4);
  std::memcpy(&u1, s + 4, 4);
  std::memcpy(&u2, s + 8, 4);
  const uint32_t sc_lo = u0 & 0x3f3f3f3f;
  const uint32_t mn_lo = u1 & 0x3f3f3f3f;
  const uint32_t sc_hi = (u2 & 0x0f0f0f0f) | (((u0 >> 6) & 0x03030303) << 4);
  const uint32_t mn_hi = ((u2 >> 4) & 0x0f0f0f0f) | (((u1 >> 6) & 0x03030303) << 4);
  return _mm_set_epi32(static_cast<int>(mn_hi), static_cast<int>(mn_lo), static_cast<int>(sc_hi),
                       static_cast<int>(sc_lo));
}

// Q4_K and Q5_K: per 64 values, the low then the high nibbles of 32 bytes
// (plus, for Q5_K, bit 2p / 2p+1 of qh as bit 4).
template <bool kFive>
struct K45Dec {
  using Block = std::conditional_t<kFive, q::BlockQ5_K, q::BlockQ4_K>;
  static constexpr int64_t kUnit = 256;
  static constexpr int64_t kUnitBytes = sizeof(Block);
  static constexpr int kShift = -1;  // no offset: the mins are the bias
  static constexpr bool kBias = true;
  static constexpr bool kInterleaved = false;
  template <class F, class FB, class FP>
  LEANLM_VNNI_INLINE static void Unit(const uint8_t* row, int64_t index, F&& f, FB&& fb, FP&&) {
    const Block& b = reinterpret_cast<const Block*>(row)[index];
    const __m512i shift = HighHalfShift(4);
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    const __m512i pair = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi32(1), 1);
    // [d·sc0..7, -dmin·m0..7]
    const __m512 dd = _mm512_mask_blend_ps(0xff00, _mm512_set1_ps(_cvtsh_ss(b.d)), _mm512_set1_ps(-_cvtsh_ss(b.dmin)));
    const __m512 sm = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(K4ScalesMins(b.scales))), dd);
    fb(index * kUnit, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(sm), 1)), __mmask8(0xff));
    __m512i qh;
    if constexpr (kFive) qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh)));
    LEANLM_UNROLL
    for (int p = 0; p < 4; ++p) {
      const __m512i qs = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * p)));
      __m512i u = _mm512_and_si512(_mm512_srlv_epi16(qs, shift), low4);
      if constexpr (kFive) {
        // bit 2p (low half) / 2p + 1 (high half) of qh to bit 4: shift by 4 - 2p / 3 - 2p
        const int lo = 4 - 2 * p, hi = 3 - 2 * p;
        const __m512i left = _mm512_inserti64x4(_mm512_set1_epi16(static_cast<short>(lo > 0 ? lo : 0)),
                                                _mm256_set1_epi16(static_cast<short>(hi > 0 ? hi : 0)), 1);
        const __m512i right = _mm512_inserti64x4(_mm512_set1_epi16(static_cast<short>(lo < 0 ? -lo : 0)),
                                                 _mm256_set1_epi16(static_cast<short>(hi < 0 ? -hi : 0)), 1);
        const __m512i h5 = _mm512_srlv_epi16(_mm512_sllv_epi16(qh, left), right);
        u = _mm512_or_si512(u, _mm512_and_si512(h5, _mm512_set1_epi8(0x10)));
      }
      const __m512 scale = _mm512_permutexvar_ps(_mm512_add_epi32(_mm512_set1_epi32(2 * p), pair), sm);
      f(index * kUnit + 64 * p, u, scale, __mmask16(0xffff), p % 2);
    }
  }
  template <class F, class FB, class FP>
  LEANLM_VNNI_INLINE static void Tail(const uint8_t*, int64_t, F&&, FB&&, FP&&) {}
};
using Q4_KDec = K45Dec<false>;
using Q5_KDec = K45Dec<true>;

struct Q6_KDec {
  static constexpr int64_t kUnit = 256;
  static constexpr int64_t kUnitBytes = sizeof(q::BlockQ6_K);
  static constexpr int kShift = 5;  // offset 32
  static constexpr bool kBias = false;
  static constexpr bool kInterleaved = false;
  template <class F, class FB, class FP>
  LEANLM_VNNI_INLINE static void Unit(const uint8_t* row, int64_t index, F&& f, FB&&, FP&&) {
    const auto& b = reinterpret_cast<const q::BlockQ6_K*>(row)[index];
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    const __m512i bits45 = _mm512_set1_epi8(0x30);
    const __m512i shl = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);  // [4, 2]
    const __m512i shr = HighHalfShift(2);                                                  // [0, 2]
    // lanes of 4 values: group (4c + lane / 4) for chunk c
    const __m512i group = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    const __m512 sc = _mm512_mul_ps(
        _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales)))),
        _mm512_set1_ps(_cvtsh_ss(b.d)));
    LEANLM_UNROLL
    for (int h = 0; h < 2; ++h) {
      const __m512i ql = _mm512_loadu_si512(b.ql + 64 * h);
      const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh + 32 * h)));
      const __m512i u0 =
          _mm512_or_si512(_mm512_and_si512(ql, low4), _mm512_and_si512(_mm512_sllv_epi16(qh, shl), bits45));
      const __m512i u1 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low4),
                                         _mm512_and_si512(_mm512_srlv_epi16(qh, shr), bits45));
      const __m512 s0 = _mm512_permutexvar_ps(_mm512_add_epi32(group, _mm512_set1_epi32(8 * h)), sc);
      const __m512 s1 = _mm512_permutexvar_ps(_mm512_add_epi32(group, _mm512_set1_epi32(8 * h + 4)), sc);
      f(index * kUnit + 128 * h, u0, s0, __mmask16(0xffff), 0);
      f(index * kUnit + 128 * h + 64, u1, s1, __mmask16(0xffff), 1);
    }
  }
  template <class F, class FB, class FP>
  LEANLM_VNNI_INLINE static void Tail(const uint8_t*, int64_t, F&&, FB&&, FP&&) {}
};

// ---- gemv ----

constexpr int64_t kPrefetchBytes = 1024;  // software prefetch distance in each weight row

// N activation rows against one weight row at a time (tiles of several rows
// measured slower from DRAM: interleaved rows defeat the stream prefetchers).
// Each activation row has two accumulator slots, plus one for the bias terms.
template <class D, int N>
LEANLM_VNNI_INLINE void QGemvRow(const WeightRef& w, const QuantizedActs& x, float* y, int64_t ldy, int64_t r) {
  const int64_t k = w.k;
  const uint8_t* row = w.row(r);
  __m512 acc[N][2];
  __m256 accb[N];
  LEANLM_UNROLL
  for (int i = 0; i < N; ++i) {
    acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    accb[i] = _mm256_setzero_ps();
  }
  auto step = [&](int64_t j, __m512i u, __m512 scale, __mmask16 lanes, int slot) LEANLM_VNNI_LAMBDA {
    LEANLM_UNROLL
    for (int i = 0; i < N; ++i) {
      const __m512i xq = _mm512_maskz_loadu_epi32(lanes, x.q_row(i) + j);
      // nls already carries the weight offset (x.nls_shift == D::kShift).
      __m512i t = D::kShift >= 0 ? _mm512_maskz_loadu_epi32(lanes, x.nls_row(i) + j / 4) : _mm512_setzero_si512();
      t = _mm512_dpbusd_epi32(t, u, xq);
      const __m512 dl = _mm512_maskz_loadu_ps(lanes, x.dl_row(i) + j / 4);
      acc[i][slot] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(t), dl), scale, acc[i][slot]);
    }
  };
  auto bias = [&](int64_t j, __m256 b, __mmask8 blocks) LEANLM_VNNI_LAMBDA {
    LEANLM_UNROLL
    for (int i = 0; i < N; ++i) accb[i] = _mm256_fmadd_ps(b, _mm256_maskz_loadu_ps(blocks, x.sb_row(i) + j / 32), accb[i]);
  };
  // Interleaved activations: both halves of 128 values into the same lanes.
  auto pair = [&](int64_t j, __m512i ua, __m512i ub, __m512 scale, int slot) LEANLM_VNNI_LAMBDA {
    LEANLM_UNROLL
    for (int i = 0; i < N; ++i) {
      __m512i t = _mm512_loadu_si512(x.inls_row(i) + j / 8);
      t = _mm512_dpbusd_epi32(t, ua, _mm512_loadu_si512(x.iq_row(i) + j));
      t = _mm512_dpbusd_epi32(t, ub, _mm512_loadu_si512(x.iq_row(i) + j + 64));
      const __m512 dl = _mm512_loadu_ps(x.idl_row(i) + j / 8);
      acc[i][slot] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(t), dl), scale, acc[i][slot]);
    }
  };
  const int64_t units = k / D::kUnit;
  for (int64_t u = 0; u < units; ++u) {
    // The decoders issue few loads per byte, so out-of-order execution
    // alone keeps too few cache misses in flight to stream from DRAM.
    const char* ahead = reinterpret_cast<const char*>(row) + u * D::kUnitBytes + kPrefetchBytes;
    LEANLM_UNROLL
    for (int64_t o = 0; o < D::kUnitBytes; o += 64) _mm_prefetch(ahead + o, _MM_HINT_T0);
    D::Unit(row, u, step, bias, pair);
  }
  D::Tail(row, k, step, bias, pair);
  LEANLM_UNROLL
  for (int i = 0; i < N; ++i) {
    __m512 sum = _mm512_add_ps(acc[i][0], acc[i][1]);
    if constexpr (D::kBias) sum = _mm512_add_ps(sum, _mm512_castps256_ps512(accb[i]));
    y[i * ldy + r] = ReduceAdd(sum);
  }
}

template <class D, int N>
LEANLM_VNNI void QGemvN(const WeightRef& w, const QuantizedActs& x, float* y, int64_t ldy, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) QGemvRow<D, N>(w, x, y, ldy, r);
}

template <class D>
void QGemv(const WeightRef& w, const QuantizedActs& x, float* y, int64_t ldy, int64_t r0, int64_t r1) {
  switch (x.n) {
    case 1: return QGemvN<D, 1>(w, x, y, ldy, r0, r1);
    case 2: return QGemvN<D, 2>(w, x, y, ldy, r0, r1);
    case 3: return QGemvN<D, 3>(w, x, y, ldy, r0, r1);
    case 4: return QGemvN<D, 4>(w, x, y, ldy, r0, r1);
    default: return ScalarQGemv(w, x, y, ldy, r0, r1);
  }
}

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

QMatMulKernels Avx512QMatMulKernels(DType type) {
  switch (type) {
    case DType::kQ8_0: return {QGemv<Q8_0Dec>, kQGemvMaxRows, QPack<Q8_0Pack>, Q8_0Dec::kShift};
    case DType::kQ4_0: return {QGemv<Q4_0IDec>, kQGemvMaxRows, QPack<Q4_0Pack>, Q4_0IDec::kShift, true};
    case DType::kQ4_K: return {QGemv<Q4_KDec>, kQGemvMaxRows, QPack<Q4_KPack>, 0};
    case DType::kQ6_K: return {QGemv<Q6_KDec>, kQGemvMaxRows, QPack<Q6_KPack>, Q6_KDec::kShift};
    case DType::kQ5_K: return {QGemv<Q5_KDec>, kQGemvMaxRows, nullptr, 0};
    default: return {};
  }
}

QGemmKernel Avx512QGemmKernel() { return {kMr, kNr, QMicroKernelDispatch}; }

}  // namespace leanlm
