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
// The integer GEMM's packers and microkernel are in qgemm_avx512.cpp.
#include <immintrin.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// The decoders' trait constants (kInterleaved, kLutBytes, ...) are read only
// in `if constexpr` of the templates, which clang 14 does not count as a use.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wunused-const-variable"
#endif

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "ops/qmatmul_kernels.h"
#include "ops/vnni_target.h"
#include "quant/formats/iq4_nl.h"
#include "quant/formats/q2_k.h"
#include "quant/formats/q3_k.h"
#include "quant/formats/q4_0.h"
#include "quant/formats/q4_1.h"
#include "quant/formats/q4_k.h"
#include "quant/formats/q5_0.h"
#include "quant/formats/q5_1.h"
#include "quant/formats/q5_k.h"
#include "quant/formats/q6_k.h"
#include "quant/formats/q8_0.h"
#include "quant/formats/tq2_0.h"


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
// s.chunk(j, u, scale, lanes, slot): column j, the unsigned weight bytes (weight =
// scale · (u - 2^kShift)), the lanes in use and an accumulator slot (0/1,
// alternated so consecutive chunks do not wait on one FMA chain). Decoders
// with kBias also call s.block_bias(j, bias, blocks) once per unit with the additive
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
  static constexpr bool kScalarTail = false;
  static constexpr bool kLaneBias = false;
  template <class S>
  LEANLM_VNNI_INLINE static void Unit(const uint8_t* row, int64_t index, S& s) {
    const auto* b = reinterpret_cast<const Block*>(row) + 4 * index;
    __m512i u;
    __m512 scale;
    Derived::Decode(b, 2, &u, &scale);
    s.chunk(index * kUnit, u, scale, __mmask16(0xffff), 0);
    Derived::Decode(b + 2, 2, &u, &scale);
    s.chunk(index * kUnit + 64, u, scale, __mmask16(0xffff), 1);
  }
  template <class S>
  LEANLM_VNNI_INLINE static void Tail(const uint8_t* row, int64_t k, S& s) {
    PairTail(row, k / kUnit * 4, k, s);
  }
  // Blocks [i, k / 32) in pairs, natural order.
  template <class S>
  LEANLM_VNNI_INLINE static void PairTail(const uint8_t* row, int64_t i, int64_t k, S& s) {
    const auto* b = reinterpret_cast<const Block*>(row);
    __m512i u;
    __m512 scale;
    for (; i + 2 <= k / 32; i += 2) {
      Derived::Decode(b + i, 2, &u, &scale);
      s.chunk(i * 32, u, scale, __mmask16(0xffff), 0);
    }
    if (i < k / 32) {
      Derived::Decode(b + i, 1, &u, &scale);
      s.chunk(i * 32, u, scale, __mmask16(0x00ff), 1);
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

// 32-value 4-bit formats against interleaved activations
// (QuantizedActs::interleaved): per 128 values, one word permute gathers the
// 64 nibble bytes of four blocks, whose low and high nibbles line up with the
// two interleaved halves of x, so both halves accumulate into the same int32
// lanes before one scaling. Two units of 128 per call, for the two
// accumulator slots; columns past the last 256 go through the scalar tail.
template <class T>
struct QuadDec {
  using Block = typename T::Block;
  static constexpr int64_t kUnit = 256;
  static constexpr int64_t kUnitBytes = 8 * sizeof(Block);
  static constexpr int kShift = T::kShift;
  static constexpr bool kBias = T::kBias;
  static constexpr bool kInterleaved = true;
  static constexpr bool kScalarTail = true;
  static constexpr bool kLaneBias = false;
  static constexpr int kWords = sizeof(Block) / 2;  // words per block: 9 to 12

  struct Tables {
    alignas(64) uint16_t quad[32];    // the 8 nibble words of blocks 0-3
    alignas(64) uint16_t scales[32];  // d of block L / 4 in word L (L < 16)
    alignas(64) uint16_t mins[32];    // m of block L in word L (L < 4)
  };
  static constexpr Tables MakeTables() {
    Tables t{};
    for (int b = 0; b < 4; ++b) {
      for (int w = 0; w < 8; ++w) t.quad[8 * b + w] = static_cast<uint16_t>(b * kWords + T::kQsByte / 2 + w);
      for (int l = 0; l < 4; ++l) t.scales[4 * b + l] = static_cast<uint16_t>(b * kWords);
      t.mins[b] = static_cast<uint16_t>(b * kWords + 1);
    }
    return t;
  }
  static constexpr Tables kTables = MakeTables();

  template <class S>
  LEANLM_VNNI_INLINE static void Unit(const uint8_t* row, int64_t index, S& s) {
    LEANLM_UNROLL
    for (int h = 0; h < 2; ++h) {
      const uint8_t* base = row + (2 * index + h) * 4 * sizeof(Block);
      const __m512i lo = _mm512_loadu_si512(base);
      const __m512i hi = _mm512_maskz_loadu_epi16((1u << (4 * kWords - 32)) - 1, base + 64);
      const __m512i t = _mm512_permutex2var_epi16(lo, _mm512_load_si512(kTables.quad), hi);
      const __m512i mask = _mm512_set1_epi8(0x0f);
      __m512i ua = _mm512_and_si512(t, mask), ub = _mm512_and_si512(_mm512_srli_epi16(t, 4), mask);
      if constexpr (T::kQhByte >= 0) {
        // Bit 4 of element e of block b is bit e of its qh word: the low 16
        // bits for the low-nibble half, the high 16 for the other.
        uint64_t ma = 0, mb = 0;
        for (int b = 0; b < 4; ++b) {
          uint32_t qh;
          std::memcpy(&qh, base + b * sizeof(Block) + T::kQhByte, 4);
          ma |= static_cast<uint64_t>(qh & 0xffff) << (16 * b);
          mb |= static_cast<uint64_t>(qh >> 16) << (16 * b);
        }
        const __m512i bit4 = _mm512_set1_epi8(0x10);
        ua = _mm512_mask_or_epi32(ua, 0xffff, ua, _mm512_maskz_mov_epi8(ma, bit4));
        ub = _mm512_mask_or_epi32(ub, 0xffff, ub, _mm512_maskz_mov_epi8(mb, bit4));
      }
      if constexpr (T::kLut) {
        const __m512i lut = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(T::kLutBytes)));
        ua = _mm512_shuffle_epi8(lut, ua);
        ub = _mm512_shuffle_epi8(lut, ub);
      }
      const __m512 scale = _mm512_cvtph_ps(
          _mm512_castsi512_si256(_mm512_permutex2var_epi16(lo, _mm512_load_si512(kTables.scales), hi)));
      if constexpr (kBias) {
        const __m512i m = _mm512_permutex2var_epi16(lo, _mm512_load_si512(kTables.mins), hi);
        s.block_bias((2 * index + h) * 128, _mm256_zextps128_ps256(_mm_cvtph_ps(_mm512_castsi512_si128(m))), __mmask8(0x0f));
      }
      s.pair((2 * index + h) * 128, ua, ub, scale, h);
    }
  }
  template <class S>
  LEANLM_VNNI_INLINE static void Tail(const uint8_t*, int64_t, S&) {}
};

// The grid of IQ4_NL plus 128, as unsigned bytes (offset 128).
alignas(16) constexpr uint8_t kIq4nlUnsigned[16] = {1, 24, 45, 63, 79, 93, 106, 118, 129, 141, 153, 166, 181, 197, 217, 241};

struct Q4_0Traits {
  using Block = q::BlockQ4_0;
  static constexpr int kShift = 3, kQsByte = 2, kQhByte = -1;
  static constexpr bool kBias = false, kLut = false;
  static constexpr const uint8_t* kLutBytes = nullptr;
};
struct Q4_1Traits {
  using Block = q::BlockQ4_1;
  static constexpr int kShift = -1, kQsByte = 4, kQhByte = -1;
  static constexpr bool kBias = true, kLut = false;
  static constexpr const uint8_t* kLutBytes = nullptr;
};
struct Q5_0Traits {
  using Block = q::BlockQ5_0;
  static constexpr int kShift = 4, kQsByte = 6, kQhByte = 2;
  static constexpr bool kBias = false, kLut = false;
  static constexpr const uint8_t* kLutBytes = nullptr;
};
struct Q5_1Traits {
  using Block = q::BlockQ5_1;
  static constexpr int kShift = -1, kQsByte = 8, kQhByte = 4;
  static constexpr bool kBias = true, kLut = false;
  static constexpr const uint8_t* kLutBytes = nullptr;
};
struct IQ4_NLTraits {
  using Block = q::BlockIQ4_NL;
  static constexpr int kShift = 7, kQsByte = 2, kQhByte = -1;
  static constexpr bool kBias = false, kLut = true;
  static constexpr const uint8_t* kLutBytes = kIq4nlUnsigned;
};
using Q4_0IDec = QuadDec<Q4_0Traits>;
using Q4_1Dec = QuadDec<Q4_1Traits>;
using Q5_0Dec = QuadDec<Q5_0Traits>;
using Q5_1Dec = QuadDec<Q5_1Traits>;
using IQ4_NLDec = QuadDec<IQ4_NLTraits>;

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
  static constexpr bool kScalarTail = false;
  static constexpr bool kLaneBias = false;
  template <class S>
  LEANLM_VNNI_INLINE static void Unit(const uint8_t* row, int64_t index, S& s) {
    const Block& b = reinterpret_cast<const Block*>(row)[index];
    const __m512i shift = HighHalfShift(4);
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    const __m512i pair = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi32(1), 1);
    // [d·sc0..7, -dmin·m0..7]
    const __m512 dd = _mm512_mask_blend_ps(0xff00, _mm512_set1_ps(_cvtsh_ss(b.d)), _mm512_set1_ps(-_cvtsh_ss(b.dmin)));
    const __m512 sm = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(K4ScalesMins(b.scales))), dd);
    s.block_bias(index * kUnit, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(sm), 1)), __mmask8(0xff));
    s.group_scales(index * kUnit, sm, 32);
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
      s.group_chunk(index * kUnit + 64 * p, u, _mm512_add_epi32(_mm512_set1_epi32(2 * p), pair), p % 2);
    }
  }
  template <class S>
  LEANLM_VNNI_INLINE static void Tail(const uint8_t*, int64_t, S&) {}
};
using Q4_KDec = K45Dec<false>;
using Q5_KDec = K45Dec<true>;

struct Q6_KDec {
  static constexpr int64_t kUnit = 256;
  static constexpr int64_t kUnitBytes = sizeof(q::BlockQ6_K);
  static constexpr int kShift = 5;  // offset 32
  static constexpr bool kBias = false;
  static constexpr bool kInterleaved = false;
  static constexpr bool kScalarTail = false;
  static constexpr bool kLaneBias = false;
  template <class S>
  LEANLM_VNNI_INLINE static void Unit(const uint8_t* row, int64_t index, S& s) {
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
    s.group_scales(index * kUnit, sc, 16);
    LEANLM_UNROLL
    for (int h = 0; h < 2; ++h) {
      const __m512i ql = _mm512_loadu_si512(b.ql + 64 * h);
      const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh + 32 * h)));
      const __m512i u0 =
          _mm512_or_si512(_mm512_and_si512(ql, low4), _mm512_and_si512(_mm512_sllv_epi16(qh, shl), bits45));
      const __m512i u1 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low4),
                                         _mm512_and_si512(_mm512_srlv_epi16(qh, shr), bits45));
      s.group_chunk(index * kUnit + 128 * h, u0, _mm512_add_epi32(group, _mm512_set1_epi32(8 * h)), 0);
      s.group_chunk(index * kUnit + 128 * h + 64, u1, _mm512_add_epi32(group, _mm512_set1_epi32(8 * h + 4)), 1);
    }
  }
  template <class S>
  LEANLM_VNNI_INLINE static void Tail(const uint8_t*, int64_t, S&) {}
};

// 2-bit layouts (TQ2_0, Q2_K, and the low bits of Q3_K): per 128 values,
// 32 bytes with value 32s + l in bits 2s..2s+1 of byte l. Chunk c of a half
// holds s = 2c (low 256 bits) and 2c + 1.
LEANLM_VNNI_INLINE __m512i TwoBits(const uint8_t* q32, int c) {
  const __m512i q = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q32)));
  const __m512i shift = _mm512_inserti64x4(_mm512_set1_epi16(static_cast<short>(4 * c)),
                                           _mm256_set1_epi16(static_cast<short>(4 * c + 2)), 1);
  return _mm512_and_si512(_mm512_srlv_epi16(q, shift), _mm512_set1_epi8(3));
}

// Lane L of chunk c (64 values) of a 16-group layout is in group 4c + L / 4.
LEANLM_VNNI_INLINE __m512i GroupIndex16(int c) {
  const __m512i group = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  return _mm512_add_epi32(group, _mm512_set1_epi32(4 * c));
}
LEANLM_VNNI_INLINE __m512 GroupLanes(__m512 per_group, int c) {
  return _mm512_permutexvar_ps(GroupIndex16(c), per_group);
}
// Lane L of chunk c of a 32-group layout is in group 2c + L / 8.
LEANLM_VNNI_INLINE __m512i GroupIndex32(int c) {
  return _mm512_add_epi32(_mm512_set1_epi32(2 * c),
                          _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi32(1), 1));
}

struct TQ2_0Dec {
  static constexpr int64_t kUnit = 256;
  static constexpr int64_t kUnitBytes = sizeof(q::BlockTQ2_0);
  static constexpr int kShift = 0;  // offset 1
  static constexpr bool kBias = false;
  static constexpr bool kInterleaved = false;
  static constexpr bool kScalarTail = false;
  static constexpr bool kLaneBias = false;
  template <class S>
  LEANLM_VNNI_INLINE static void Unit(const uint8_t* row, int64_t index, S& s) {
    const auto& b = reinterpret_cast<const q::BlockTQ2_0*>(row)[index];
    s.group_scales(index * kUnit, _mm512_set1_ps(_cvtsh_ss(b.d)), 32);
    LEANLM_UNROLL
    for (int h = 0; h < 2; ++h) {
      LEANLM_UNROLL
      for (int c = 0; c < 2; ++c) {
        s.group_chunk(index * kUnit + 128 * h + 64 * c, TwoBits(b.qs + 32 * h, c), GroupIndex32(2 * h + c), c);
      }
    }
  }
  template <class S>
  LEANLM_VNNI_INLINE static void Tail(const uint8_t*, int64_t, S&) {}
};

struct Q2_KDec {
  static constexpr int64_t kUnit = 256;
  static constexpr int64_t kUnitBytes = sizeof(q::BlockQ2_K);
  static constexpr int kShift = -1;  // no offset: the mins are a per-lane bias
  static constexpr bool kBias = false;
  static constexpr bool kInterleaved = false;
  static constexpr bool kScalarTail = false;
  static constexpr bool kLaneBias = true;
  template <class S>
  LEANLM_VNNI_INLINE static void Unit(const uint8_t* row, int64_t index, S& s) {
    const auto& b = reinterpret_cast<const q::BlockQ2_K*>(row)[index];
    const __m512i sc = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales)));
    const __m512 scales =
        _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_and_si512(sc, _mm512_set1_epi32(0xf))), _mm512_set1_ps(_cvtsh_ss(b.d)));
    const __m512 mins =
        _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(sc, 4)), _mm512_set1_ps(-_cvtsh_ss(b.dmin)));
    s.group_scales(index * kUnit, scales, 16);
    LEANLM_UNROLL
    for (int h = 0; h < 2; ++h) {
      LEANLM_UNROLL
      for (int c = 0; c < 2; ++c) {
        const int64_t j = index * kUnit + 128 * h + 64 * c;
        s.lane_bias(j, GroupLanes(mins, 2 * h + c));
        s.group_chunk(j, TwoBits(b.qs + 32 * h, c), GroupIndex16(2 * h + c), c);
      }
    }
  }
  template <class S>
  LEANLM_VNNI_INLINE static void Tail(const uint8_t*, int64_t, S&) {}
};

struct Q3_KDec {
  static constexpr int64_t kUnit = 256;
  static constexpr int64_t kUnitBytes = sizeof(q::BlockQ3_K);
  static constexpr int kShift = 2;  // offset 4
  static constexpr bool kBias = false;
  static constexpr bool kInterleaved = false;
  static constexpr bool kScalarTail = false;
  static constexpr bool kLaneBias = false;
  // The 16 signed 6-bit group scales as floats times d.
  LEANLM_VNNI_INLINE static __m512 Scales(const q::BlockQ3_K& b) {
    uint64_t lo8;
    uint32_t hi4;
    std::memcpy(&lo8, b.scales, 8);
    std::memcpy(&hi4, b.scales + 8, 4);
    const uint64_t low_a = lo8 & 0x0f0f0f0f0f0f0f0full, low_b = (lo8 >> 4) & 0x0f0f0f0f0f0f0f0full;
    const uint32_t m = 0x03030303;
    const __m128i high = _mm_set_epi32(static_cast<int>(((hi4 >> 6) & m) << 4), static_cast<int>(((hi4 >> 4) & m) << 4),
                                       static_cast<int>(((hi4 >> 2) & m) << 4), static_cast<int>((hi4 & m) << 4));
    const __m128i low = _mm_set_epi64x(static_cast<int64_t>(low_b), static_cast<int64_t>(low_a));
    const __m512i sc = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_or_si128(low, high)), _mm512_set1_epi32(32));
    return _mm512_mul_ps(_mm512_cvtepi32_ps(sc), _mm512_set1_ps(_cvtsh_ss(b.d)));
  }
  template <class S>
  LEANLM_VNNI_INLINE static void Unit(const uint8_t* row, int64_t index, S& s) {
    const auto& b = reinterpret_cast<const q::BlockQ3_K*>(row)[index];
    s.group_scales(index * kUnit, Scales(b), 16);
    const __m512i hm = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.hmask)));
    LEANLM_UNROLL
    for (int h = 0; h < 2; ++h) {
      LEANLM_UNROLL
      for (int c = 0; c < 2; ++c) {
        // Bit 4h + 2c (low 256 bits) / 4h + 2c + 1 of hmask to bit 2.
        const int lo = 4 * h + 2 * c, hi = lo + 1;
        const __m512i left = _mm512_inserti64x4(_mm512_set1_epi16(static_cast<short>(lo < 2 ? 2 - lo : 0)),
                                                _mm256_set1_epi16(static_cast<short>(hi < 2 ? 2 - hi : 0)), 1);
        const __m512i right = _mm512_inserti64x4(_mm512_set1_epi16(static_cast<short>(lo > 2 ? lo - 2 : 0)),
                                                 _mm256_set1_epi16(static_cast<short>(hi > 2 ? hi - 2 : 0)), 1);
        const __m512i h3 = _mm512_and_si512(_mm512_srlv_epi16(_mm512_sllv_epi16(hm, left), right), _mm512_set1_epi8(4));
        const __m512i u = _mm512_or_si512(TwoBits(b.qs + 32 * h, c), h3);
        s.group_chunk(index * kUnit + 128 * h + 64 * c, u, GroupIndex16(2 * h + c), c);
      }
    }
  }
  template <class S>
  LEANLM_VNNI_INLINE static void Tail(const uint8_t*, int64_t, S&) {}
};

// ---- gemv ----

// The callbacks a decoder feeds (see "Weight decoders").
template <class Chunk, class BlockBias, class Pair, class LaneBias, class GroupScales, class GroupChunk>
struct Sink {
  Chunk& chunk;
  BlockBias& block_bias;
  Pair& pair;
  LaneBias& lane_bias;
  GroupScales& group_scales;
  GroupChunk& group_chunk;
};

constexpr int64_t kPrefetchBytes = 1024;  // software prefetch distance in each weight row

// N activation rows against one weight row at a time (tiles of several rows
// measured slower from DRAM: interleaved rows defeat the stream prefetchers).
// Each activation row has two accumulator slots, plus one for the bias terms.
template <class D, int N>
LEANLM_VNNI_INLINE void QGemvRow(const WeightRef& w, const QuantizedActs& x, float* y, int64_t ldy, int64_t r) {
  const int64_t k = w.k;
  const uint8_t* row = w.row(r);
  __m512 acc[N][2], accl[N];
  __m256 accb[N];
  LEANLM_UNROLL
  for (int i = 0; i < N; ++i) {
    acc[i][0] = acc[i][1] = accl[i] = _mm512_setzero_ps();
    accb[i] = _mm256_setzero_ps();
  }
  auto step = [&](int64_t j, __m512i u, __m512 scale, __mmask16 lanes, int slot) LEANLM_VNNI_LAMBDA {
    LEANLM_UNROLL
    for (int i = 0; i < N; ++i) {
      const __m512i xq = _mm512_maskz_loadu_epi32(lanes, x.q_row(i) + j);
      // nls already carries the weight offset (x.nls_shift == D::kShift).
      __m512i t = D::kShift >= 0 ? _mm512_maskz_loadu_epi32(lanes, x.nls_row(i) + j / 4) : _mm512_setzero_si512();
      t = _mm512_dpbusd_epi32(t, u, xq);
      // The two block scales of these 64 values, spread over their lanes
      // (cheaper in L1 than a per-lane copy: x stays resident for long rows).
      const __m512 dl = _mm512_permutexvar_ps(
          _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
          _mm512_maskz_loadu_ps(lanes == 0xffff ? 0x3 : 0x1, x.db_row(i) + j / 32));
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
      __m512i t = D::kShift >= 0 ? _mm512_loadu_si512(x.inls_row(i) + j / 8) : _mm512_setzero_si512();
      t = _mm512_dpbusd_epi32(t, ua, _mm512_loadu_si512(x.iq_row(i) + j));
      t = _mm512_dpbusd_epi32(t, ub, _mm512_loadu_si512(x.iq_row(i) + j + 64));
      const __m512 dl = _mm512_loadu_ps(x.idl_row(i) + j / 8);
      acc[i][slot] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(t), dl), scale, acc[i][slot]);
    }
  };
  // Per-lane additive terms (mins of 16-value groups): bias_lanes · d · Σ q per lane.
  auto lane_bias = [&](int64_t j, __m512 b) LEANLM_VNNI_LAMBDA {
    LEANLM_UNROLL
    for (int i = 0; i < N; ++i) accl[i] = _mm512_fmadd_ps(b, _mm512_loadu_ps(x.sl_row(i) + j / 4), accl[i]);
  };
  // Super-block formats: the weight scale of each group times the activation
  // scale of its block, once per super-block (group_scales), then one permute
  // per 64 values spreads them over the lanes (group_chunk).
  __m512 comb[N];
  auto group_scales = [&](int64_t j0, __m512 gs, int group) LEANLM_VNNI_LAMBDA {
    LEANLM_UNROLL
    for (int i = 0; i < N; ++i) {
      const __m512 db = _mm512_maskz_loadu_ps(0xff, x.db_row(i) + j0 / 32);
      comb[i] = _mm512_mul_ps(
          gs, group == 32 ? db
                          : _mm512_permutexvar_ps(_mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0), db));
    }
  };
  auto group_chunk = [&](int64_t j, __m512i u, __m512i lane_groups, int slot) LEANLM_VNNI_LAMBDA {
    LEANLM_UNROLL
    for (int i = 0; i < N; ++i) {
      __m512i t = D::kShift >= 0 ? _mm512_loadu_si512(x.nls_row(i) + j / 4) : _mm512_setzero_si512();
      t = _mm512_dpbusd_epi32(t, u, _mm512_loadu_si512(x.q_row(i) + j));
      acc[i][slot] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), _mm512_permutexvar_ps(lane_groups, comb[i]), acc[i][slot]);
    }
  };
  Sink<decltype(step), decltype(bias), decltype(pair), decltype(lane_bias), decltype(group_scales),
       decltype(group_chunk)>
      sink{step, bias, pair, lane_bias, group_scales, group_chunk};
  const int64_t units = k / D::kUnit;
  for (int64_t u = 0; u < units; ++u) {
    // The decoders issue few loads per byte, so out-of-order execution
    // alone keeps too few cache misses in flight to stream from DRAM.
    const char* ahead = reinterpret_cast<const char*>(row) + u * D::kUnitBytes + kPrefetchBytes;
    LEANLM_UNROLL
    for (int64_t o = 0; o < D::kUnitBytes; o += 64) _mm_prefetch(ahead + o, _MM_HINT_T1);
    D::Unit(row, u, sink);
  }
  D::Tail(row, k, sink);
  float tail[N] = {};
  if constexpr (D::kScalarTail) {
    if (units * D::kUnit < k) ScalarQDotTail(w, x, r, units * D::kUnit, tail);
  }
  LEANLM_UNROLL
  for (int i = 0; i < N; ++i) {
    __m512 sum = _mm512_add_ps(acc[i][0], acc[i][1]);
    if constexpr (D::kBias) sum = _mm512_add_ps(sum, _mm512_zextps256_ps512(accb[i]));
    if constexpr (D::kLaneBias) sum = _mm512_add_ps(sum, accl[i]);
    y[i * ldy + r] = ReduceAdd(sum) + tail[i];
  }
}

template <class D, int N>
LEANLM_VNNI void QGemvN(const WeightRef& w, const QuantizedActs& x, float* y, int64_t ldy, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) QGemvRow<D, N>(w, x, y, ldy, r);
}

template <class D>
void QGemv(const WeightRef& w, const QuantizedActs& x, float* y, int64_t ldy, int64_t r0, int64_t r1) {
  if (!WithGemvRows(x.n, [&](auto rows) { QGemvN<D, rows>(w, x, y, ldy, r0, r1); })) {
    ScalarQGemv(w, x, y, ldy, r0, r1);
  }
}

}  // namespace

QMatMulKernels Avx512QMatMulKernels(DType type) {
  switch (type) {
    case DType::kQ8_0: return {QGemv<Q8_0Dec>, kQGemvMaxRows, Avx512QPackWeights(type), Q8_0Dec::kShift};
    case DType::kQ4_0: return {QGemv<Q4_0IDec>, kQGemvMaxRows, Avx512QPackWeights(type), Q4_0IDec::kShift, true};
    case DType::kQ4_K: return {QGemv<Q4_KDec>, kQGemvMaxRows, Avx512QPackWeights(type), 0};
    case DType::kQ6_K: return {QGemv<Q6_KDec>, kQGemvMaxRows, Avx512QPackWeights(type), Q6_KDec::kShift};
    case DType::kQ5_K: return {QGemv<Q5_KDec>, kQGemvMaxRows, Avx512QPackWeights(type), 0};
    case DType::kQ4_1: return {QGemv<Q4_1Dec>, kQGemvMaxRows, Avx512QPackWeights(type), 0, true};
    case DType::kQ5_0: return {QGemv<Q5_0Dec>, kQGemvMaxRows, Avx512QPackWeights(type), Q5_0Dec::kShift, true};
    case DType::kQ5_1: return {QGemv<Q5_1Dec>, kQGemvMaxRows, Avx512QPackWeights(type), 0, true};
    case DType::kIQ4_NL: return {QGemv<IQ4_NLDec>, kQGemvMaxRows, Avx512QPackWeights(type), IQ4_NLDec::kShift, true};
    case DType::kTQ2_0: return {QGemv<TQ2_0Dec>, kQGemvMaxRows, Avx512QPackWeights(type), TQ2_0Dec::kShift};
    case DType::kQ2_K: return {QGemv<Q2_KDec>, kQGemvMaxRows, Avx512QPackWeights(type), 0};
    case DType::kQ3_K: return {QGemv<Q3_KDec>, kQGemvMaxRows, Avx512QPackWeights(type), Q3_KDec::kShift};
    default: return {};
  }
}

}  // namespace leanlm
