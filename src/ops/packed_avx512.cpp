// AVX-512 VNNI kernels for packed weights (ops/packed_weights.h): a gemv
// that keeps 16 rows in the 16 lanes of its accumulators, and the integer
// GEMM's panel packer (ops/qmatmul_kernels.h), whose panels are 16-row
// groups of the same interleaved bytes.
//
// Each type T decodes one block of a group (16 rows × T::kValues values):
//   Gemv<N>: adds the block's dot with N activation rows to acc[0..N); the
//     quants go through vpdpbusd as unsigned bytes against 4 broadcast
//     activation quants, and weight offsets (8 for Q4_0, 4 for Q3_K, 32 for
//     Q6_K, 128 for Q8_0 read as unsigned) and the K-quants' mins come off in
//     F32 through the activation block sums: Σ (u - c)·q·dx = dx·Σ u·q -
//     c·(dx·Σ q).
//   Unpack: per group of T::kGroup values, the signed values v (G/4 vectors
//     of 16 rows × 4 values) with weight = scale · v + bias.
#include <immintrin.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <cstdint>
#include <cstring>

#include "ops/packed_weights.h"
#include "ops/qmatmul_kernels.h"
#include "ops/vnni_target.h"

namespace leanlm {
namespace {

constexpr int kRows = static_cast<int>(kPackRows);

LEANLM_VNNI_INLINE __m512i Load(const uint8_t* p) { return _mm512_loadu_si512(p); }
LEANLM_VNNI_INLINE __m512i Bcast4(const int8_t* q) {
  int32_t v;
  std::memcpy(&v, q, 4);
  return _mm512_set1_epi32(v);
}
LEANLM_VNNI_INLINE __m512 Fp16x16(const uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
LEANLM_VNNI_INLINE __m512i Low4(__m512i v) { return _mm512_and_si512(v, _mm512_set1_epi8(0x0f)); }
LEANLM_VNNI_INLINE __m512i High4(__m512i v) {
  return _mm512_and_si512(_mm512_srli_epi16(v, 4), _mm512_set1_epi8(0x0f));
}
// The high nibbles in place: 16 × their value, one AND instead of a shift and
// an AND per load; Dot<4> takes the factor off the sum of 32 values.
LEANLM_VNNI_INLINE __m512i High4x16(__m512i v) { return _mm512_and_si512(v, _mm512_set1_epi8(0xf0)); }
// a + (b >> kShiftB) as F32; b is a multiple of 2^kShiftB, so exact.
template <int kShiftB = 0>
LEANLM_VNNI_INLINE __m512 Dot(__m512i a, __m512i b) {
  if constexpr (kShiftB > 0) b = _mm512_srai_epi32(b, kShiftB);
  return _mm512_cvtepi32_ps(_mm512_add_epi32(a, b));
}

// For each activation row i: ia[i] += u0 · quants j..j+3, ib[i] += u1 ·
// quants j+4..j+7 (two accumulators, so consecutive vpdpbusd do not wait on
// each other).
template <int N>
LEANLM_VNNI_INLINE void DotQuads(__m512i u0, __m512i u1, const QuantizedActs& x, int64_t j, __m512i* ia,
                                 __m512i* ib) {
  LEANLM_UNROLL
  for (int i = 0; i < N; ++i) {
    const int8_t* q = x.q_row(i) + j;
    ia[i] = _mm512_dpbusd_epi32(ia[i], u0, Bcast4(q));
    ib[i] = _mm512_dpbusd_epi32(ib[i], u1, Bcast4(q + 4));
  }
}

// acc[i] += d ⊙ (dx·Σ u·q - offset·(dx·Σ q)) for 32-value block b, whose
// 16 fp16 scales d start the packed block and whose Σ u·q is Dot<kShiftB>(ia[i], ib[i]).
template <int N, int kShiftB = 0>
LEANLM_VNNI_INLINE void AddBlock32(const uint8_t* blk, const QuantizedActs& x, int64_t b, float offset,
                                   const __m512i* ia, const __m512i* ib, __m512* acc) {
  const __m512 d = Fp16x16(blk);
  LEANLM_UNROLL
  for (int i = 0; i < N; ++i) {
    const __m512 f = _mm512_fmadd_ps(Dot<kShiftB>(ia[i], ib[i]), _mm512_set1_ps(x.db_row(i)[b]),
                                     _mm512_set1_ps(-offset * x.sb_row(i)[b]));
    acc[i] = _mm512_fmadd_ps(d, f, acc[i]);
  }
}

// The sum of the 16 activations from j (a multiple of 16), dx·Σ q.
LEANLM_VNNI_INLINE float GroupSum16(const QuantizedActs& x, int i, int64_t j) { return x.sg_row(i)[j / 16]; }

// f[i] += sc ⊙ (dx·Σ u·q - offset·(dx·Σ q)) for the 16-value group from
// column j, whose Σ u·q is ia[i] + ib[i] (Q3_K, Q6_K: weight = sc·(u - offset)).
template <int N>
LEANLM_VNNI_INLINE void AddGroup16(const QuantizedActs& x, int64_t j, float offset, __m512 sc, const __m512i* ia,
                                   const __m512i* ib, __m512* f) {
  LEANLM_UNROLL
  for (int i = 0; i < N; ++i) {
    const __m512 t = _mm512_fmadd_ps(Dot(ia[i], ib[i]), _mm512_set1_ps(x.db_row(i)[j / 32]),
                                     _mm512_set1_ps(-offset * GroupSum16(x, i, j)));
    f[i] = _mm512_fmadd_ps(sc, t, f[i]);
  }
}

struct Q4_0 {
  static constexpr int64_t kValues = 32, kBytes = 288;
  static constexpr int kGroup = 32;
  template <int N>
  LEANLM_VNNI_INLINE static void Gemv(const uint8_t* blk, const QuantizedActs& x, int64_t b, __m512* acc) {
    __m512i ia[N] = {}, ib[N] = {};
    LEANLM_UNROLL
    for (int o = 0; o < 4; ++o) {
      const __m512i w = Load(blk + 32 + 64 * o);
      DotQuads<N>(Low4(w), High4x16(w), x, 32 * b + 8 * o, ia, ib);
    }
    AddBlock32<N, 4>(blk, x, b, 8.0f, ia, ib, acc);
  }
  template <class F>
  LEANLM_VNNI_INLINE static void Unpack(const uint8_t* blk, F&& group) {
    __m512i v[8];
    const __m512i eight = _mm512_set1_epi8(8);
    LEANLM_UNROLL
    for (int o = 0; o < 4; ++o) {
      const __m512i w = Load(blk + 32 + 64 * o);
      v[2 * o] = _mm512_sub_epi8(Low4(w), eight);
      v[2 * o + 1] = _mm512_sub_epi8(High4(w), eight);
    }
    group(0, v, Fp16x16(blk), _mm512_setzero_ps());
  }
};

struct Q8_0 {
  static constexpr int64_t kValues = 32, kBytes = 544;
  static constexpr int kGroup = 32;
  template <int N>
  LEANLM_VNNI_INLINE static void Gemv(const uint8_t* blk, const QuantizedActs& x, int64_t b, __m512* acc) {
    __m512i ia[N] = {}, ib[N] = {};
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    LEANLM_UNROLL
    for (int a = 0; a < 8; a += 2) {
      const __m512i u0 = _mm512_xor_si512(Load(blk + 32 + 64 * a), flip);
      const __m512i u1 = _mm512_xor_si512(Load(blk + 96 + 64 * a), flip);
      DotQuads<N>(u0, u1, x, 32 * b + 4 * a, ia, ib);
    }
    AddBlock32<N>(blk, x, b, 128.0f, ia, ib, acc);
  }
  template <class F>
  LEANLM_VNNI_INLINE static void Unpack(const uint8_t* blk, F&& group) {
    __m512i v[8];
    LEANLM_UNROLL
    for (int a = 0; a < 8; ++a) v[a] = Load(blk + 32 + 64 * a);
    group(0, v, Fp16x16(blk), _mm512_setzero_ps());
  }
};

// Q4_K, and Q5_K (kFive: each sub-block's nibbles are followed by 64 bytes
// of fifth bits, see PackQ5_K).
template <bool kFive>
struct K45 {
  static constexpr int64_t kValues = 256, kBytes = kFive ? 2816 : 2304;
  static constexpr int kGroup = 32;
  static constexpr int kSubBlockBytes = kFive ? 320 : 256;
  // The gemv takes Q4_K's high nibbles in place (High4x16); a fifth bit
  // would not fit above them.
  static constexpr bool kHighInPlace = !kFive;
  static constexpr int kHighShift = kHighInPlace ? 4 : 0;
  // The unsigned values of octet o of sub-block j: low nibbles (values
  // 8o..8o+3) and high ones (8o+4..8o+7, times 16 if in_place), plus the
  // fifth bit for Q5_K.
  LEANLM_VNNI_INLINE static void Octet(const uint8_t* blk, int j, int o, __m512i* lo, __m512i* hi,
                                       bool in_place = false) {
    const uint8_t* sub = blk + 256 + kSubBlockBytes * j;
    const __m512i w = Load(sub + 64 * o);
    *lo = Low4(w);
    *hi = in_place ? High4x16(w) : High4(w);
    if constexpr (kFive) {
      const __m512i qh = Load(sub + 256), bit4 = _mm512_set1_epi8(0x10);
      // bit o to bit 4 (left by 4 - o), bit 4 + o to bit 4 (right by o)
      *lo = _mm512_or_si512(*lo, _mm512_and_si512(_mm512_slli_epi16(qh, 4 - o), bit4));
      *hi = _mm512_or_si512(*hi, _mm512_and_si512(_mm512_srli_epi16(qh, o), bit4));
    }
  }
  // Sub-block j's 6-bit scale (mins: false) or min of each row, as F32.
  struct ScalesMins {
    __m512i sc_lo, sc_hi, mn_lo, mn_hi;  // bytes 0-3 / 4-7 of each row's lane
    LEANLM_VNNI_INLINE explicit ScalesMins(const uint8_t* blk) {
      const __m512i u0 = Load(blk + 64), u1 = Load(blk + 128), u2 = Load(blk + 192);
      const __m512i six = _mm512_set1_epi32(0x3f3f3f3f), four = _mm512_set1_epi32(0x0f0f0f0f);
      const __m512i two = _mm512_set1_epi32(0x03030303);
      sc_lo = _mm512_and_si512(u0, six);
      mn_lo = _mm512_and_si512(u1, six);
      sc_hi = _mm512_or_si512(_mm512_and_si512(u2, four),
                              _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u0, 6), two), 4));
      mn_hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(u2, 4), four),
                              _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u1, 6), two), 4));
    }
    LEANLM_VNNI_INLINE static __m512 Byte(__m512i v, int byte) {
      return _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(v, 8 * byte), _mm512_set1_epi32(0xff)));
    }
    LEANLM_VNNI_INLINE __m512 Scale(int j) const { return Byte(j < 4 ? sc_lo : sc_hi, j % 4); }
    LEANLM_VNNI_INLINE __m512 Min(int j) const { return Byte(j < 4 ? mn_lo : mn_hi, j % 4); }
  };
  template <int N>
  LEANLM_VNNI_INLINE static void Gemv(const uint8_t* blk, const QuantizedActs& x, int64_t s, __m512* acc) {
    const ScalesMins sm(blk);
    __m512 f[N], m[N];
    LEANLM_UNROLL
    for (int i = 0; i < N; ++i) f[i] = m[i] = _mm512_setzero_ps();
    LEANLM_UNROLL
    for (int j = 0; j < 8; ++j) {
      const int64_t b = 8 * s + j;  // activation block
      __m512i ia[N] = {}, ib[N] = {};
      LEANLM_UNROLL
      for (int o = 0; o < 4; ++o) {
        __m512i lo, hi;
        Octet(blk, j, o, &lo, &hi, kHighInPlace);
        DotQuads<N>(lo, hi, x, 32 * b + 8 * o, ia, ib);
      }
      const __m512 sc = sm.Scale(j), mn = sm.Min(j);
      LEANLM_UNROLL
      for (int i = 0; i < N; ++i) {
        f[i] = _mm512_fmadd_ps(_mm512_mul_ps(Dot<kHighShift>(ia[i], ib[i]), sc), _mm512_set1_ps(x.db_row(i)[b]),
                               f[i]);
        m[i] = _mm512_fmadd_ps(mn, _mm512_set1_ps(x.sb_row(i)[b]), m[i]);
      }
    }
    const __m512 d = Fp16x16(blk), dmin = Fp16x16(blk + 32);
    LEANLM_UNROLL
    for (int i = 0; i < N; ++i) acc[i] = _mm512_fnmadd_ps(dmin, m[i], _mm512_fmadd_ps(d, f[i], acc[i]));
  }
  template <class F>
  LEANLM_VNNI_INLINE static void Unpack(const uint8_t* blk, F&& group) {
    const ScalesMins sm(blk);
    const __m512 d = Fp16x16(blk), dmin = Fp16x16(blk + 32);
    LEANLM_UNROLL
    for (int j = 0; j < 8; ++j) {
      __m512i v[8];
      LEANLM_UNROLL
      for (int o = 0; o < 4; ++o) Octet(blk, j, o, &v[2 * o], &v[2 * o + 1]);
      group(j, v, _mm512_mul_ps(d, sm.Scale(j)), _mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), dmin), sm.Min(j)));
    }
  }
};

struct Q6_K {
  static constexpr int64_t kValues = 256, kBytes = 3360;
  static constexpr int kGroup = 16;
  static constexpr int kScales = 32, kGroups = 288, kGroupBytes = 192;
  LEANLM_VNNI_INLINE static __m512i HighBits(const uint8_t* blk, int g) {
    return Load(blk + kGroups + kGroupBytes * g + 128);
  }
  // Quad a (values 16g + 4a .. + 3) of group g, unsigned 0..63.
  LEANLM_VNNI_INLINE static __m512i Quad(const uint8_t* blk, int g, int a, __m512i qh) {
    const __m512i ql = Load(blk + kGroups + kGroupBytes * g + 64 * (a / 2));
    const __m512i low = a % 2 == 0 ? Low4(ql) : High4(ql);
    // bits 2a..2a+1 of qh to bits 4..5
    const __m512i h = a == 0 ? _mm512_slli_epi16(qh, 4)
                      : a == 1 ? _mm512_slli_epi16(qh, 2)
                      : a == 2 ? qh
                               : _mm512_srli_epi16(qh, 2);
    return _mm512_or_si512(low, _mm512_and_si512(h, _mm512_set1_epi8(0x30)));
  }
  LEANLM_VNNI_INLINE static __m512 Scale(const uint8_t* blk, int g) {
    return _mm512_cvtepi32_ps(
        _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + kScales + 16 * g))));
  }
  template <int N>
  LEANLM_VNNI_INLINE static void Gemv(const uint8_t* blk, const QuantizedActs& x, int64_t s, __m512* acc) {
    __m512 f[N];
    LEANLM_UNROLL
    for (int i = 0; i < N; ++i) f[i] = _mm512_setzero_ps();
    LEANLM_UNROLL
    for (int g = 0; g < 16; ++g) {
      const int64_t j = 256 * s + 16 * g;  // first column of the group
      const __m512i qh = HighBits(blk, g);
      __m512i ia[N] = {}, ib[N] = {};
      LEANLM_UNROLL
      for (int a = 0; a < 4; a += 2) {
        DotQuads<N>(Quad(blk, g, a, qh), Quad(blk, g, a + 1, qh), x, j + 4 * a, ia, ib);
      }
      AddGroup16<N>(x, j, 32.0f, Scale(blk, g), ia, ib, f);
    }
    const __m512 d = Fp16x16(blk);
    LEANLM_UNROLL
    for (int i = 0; i < N; ++i) acc[i] = _mm512_fmadd_ps(d, f[i], acc[i]);
  }
  template <class F>
  LEANLM_VNNI_INLINE static void Unpack(const uint8_t* blk, F&& group) {
    const __m512 d = Fp16x16(blk);
    const __m512i offset = _mm512_set1_epi8(32);
    LEANLM_UNROLL
    for (int g = 0; g < 16; ++g) {
      const __m512i qh = HighBits(blk, g);
      __m512i v[4];
      LEANLM_UNROLL
      for (int a = 0; a < 4; ++a) v[a] = _mm512_sub_epi8(Quad(blk, g, a, qh), offset);
      group(g, v, _mm512_mul_ps(d, Scale(blk, g)), _mm512_setzero_ps());
    }
  }
};

// Crumb c (values 4c..4c+3 of the group) of a Q2_K/Q3_K low-bits vector.
LEANLM_VNNI_INLINE __m512i Crumb(__m512i w, int c) {
  return _mm512_and_si512(c == 0 ? w : _mm512_srli_epi16(w, 2 * c), _mm512_set1_epi8(3));
}

struct Q2_K {
  static constexpr int64_t kValues = 256, kBytes = 1344;
  static constexpr int kGroup = 16;
  static constexpr int kScales = 64, kQuants = 320;
  // Group g's 4-bit scales (mins: high nibbles) of the 16 rows, as int32.
  LEANLM_VNNI_INLINE static __m512i ScaleBytes(const uint8_t* blk, int g) {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + kScales + 16 * g)));
  }
  LEANLM_VNNI_INLINE static __m512 Scale(__m512i b) {
    return _mm512_cvtepi32_ps(_mm512_and_si512(b, _mm512_set1_epi32(0xf)));
  }
  LEANLM_VNNI_INLINE static __m512 Min(__m512i b) { return _mm512_cvtepi32_ps(_mm512_srli_epi32(b, 4)); }
  template <int N>
  LEANLM_VNNI_INLINE static void Gemv(const uint8_t* blk, const QuantizedActs& x, int64_t s, __m512* acc) {
    __m512 f[N], m[N];
    LEANLM_UNROLL
    for (int i = 0; i < N; ++i) f[i] = m[i] = _mm512_setzero_ps();
    LEANLM_UNROLL
    for (int g = 0; g < 16; ++g) {
      const int64_t j = 256 * s + 16 * g;  // first column of the group
      const __m512i w = Load(blk + kQuants + 64 * g);
      __m512i ia[N] = {}, ib[N] = {};
      DotQuads<N>(Crumb(w, 0), Crumb(w, 1), x, j, ia, ib);
      DotQuads<N>(Crumb(w, 2), Crumb(w, 3), x, j + 8, ia, ib);
      const __m512i b = ScaleBytes(blk, g);
      const __m512 sc = Scale(b), mn = Min(b);
      LEANLM_UNROLL
      for (int i = 0; i < N; ++i) {
        f[i] = _mm512_fmadd_ps(_mm512_mul_ps(Dot(ia[i], ib[i]), sc), _mm512_set1_ps(x.db_row(i)[j / 32]), f[i]);
        m[i] = _mm512_fmadd_ps(mn, _mm512_set1_ps(GroupSum16(x, i, j)), m[i]);
      }
    }
    const __m512 d = Fp16x16(blk), dmin = Fp16x16(blk + 32);
    LEANLM_UNROLL
    for (int i = 0; i < N; ++i) acc[i] = _mm512_fnmadd_ps(dmin, m[i], _mm512_fmadd_ps(d, f[i], acc[i]));
  }
  template <class F>
  LEANLM_VNNI_INLINE static void Unpack(const uint8_t* blk, F&& group) {
    const __m512 d = Fp16x16(blk), neg_dmin = _mm512_sub_ps(_mm512_setzero_ps(), Fp16x16(blk + 32));
    LEANLM_UNROLL
    for (int g = 0; g < 16; ++g) {
      const __m512i w = Load(blk + kQuants + 64 * g);
      __m512i v[4];
      LEANLM_UNROLL
      for (int c = 0; c < 4; ++c) v[c] = Crumb(w, c);
      const __m512i b = ScaleBytes(blk, g);
      group(g, v, _mm512_mul_ps(d, Scale(b)), _mm512_mul_ps(neg_dmin, Min(b)));
    }
  }
};

struct Q3_K {
  static constexpr int64_t kValues = 256, kBytes = 1760;
  static constexpr int kGroup = 16;
  static constexpr int kScales = 32, kPairs = 224, kPairBytes = 192;
  // The 16 groups' scales - 32 of each row as signed bytes: s[q] byte b is
  // group 4q + b (ggml's 6-bit layout: low nibbles in dwords 0-1, high
  // bits in dword 2).
  struct Scales {
    __m512i s[4];
    LEANLM_VNNI_INLINE explicit Scales(const uint8_t* blk) {
      const __m512i a0 = Load(blk + kScales), a1 = Load(blk + kScales + 64), a2 = Load(blk + kScales + 128);
      const __m512i low4 = _mm512_set1_epi8(0x0f), high2 = _mm512_set1_epi8(0x30), bias = _mm512_set1_epi8(32);
      const __m512i lows[4] = {a0, a1, _mm512_srli_epi16(a0, 4), _mm512_srli_epi16(a1, 4)};
      const __m512i highs[4] = {_mm512_slli_epi16(a2, 4), _mm512_slli_epi16(a2, 2), a2, _mm512_srli_epi16(a2, 2)};
      LEANLM_UNROLL
      for (int q = 0; q < 4; ++q) {
        s[q] = _mm512_sub_epi8(
            _mm512_or_si512(_mm512_and_si512(lows[q], low4), _mm512_and_si512(highs[q], high2)), bias);
      }
    }
    LEANLM_VNNI_INLINE __m512 Group(int g) const {
      const __m512i v = g % 4 == 3 ? s[g / 4] : _mm512_slli_epi32(s[g / 4], 24 - 8 * (g % 4));
      return _mm512_cvtepi32_ps(_mm512_srai_epi32(v, 24));
    }
  };
  // Quad c of group h of a pair, unsigned 0..7: the crumb, and bit 4h + c
  // of the high-bit vector moved to bit 2.
  LEANLM_VNNI_INLINE static __m512i Quad(__m512i w, __m512i hb, int h, int c) {
    const int bit = 4 * h + c;
    const __m512i high = bit < 2    ? _mm512_slli_epi16(hb, 2 - bit)
                         : bit == 2 ? hb
                                    : _mm512_srli_epi16(hb, bit - 2);
    return _mm512_or_si512(Crumb(w, c), _mm512_and_si512(high, _mm512_set1_epi8(4)));
  }
  template <int N>
  LEANLM_VNNI_INLINE static void Gemv(const uint8_t* blk, const QuantizedActs& x, int64_t s, __m512* acc) {
    const Scales scales(blk);
    __m512 f[N];
    LEANLM_UNROLL
    for (int i = 0; i < N; ++i) f[i] = _mm512_setzero_ps();
    LEANLM_UNROLL
    for (int g = 0; g < 16; ++g) {
      const int64_t j = 256 * s + 16 * g;  // first column of the group
      const uint8_t* pair = blk + kPairs + kPairBytes * (g / 2);
      const __m512i w = Load(pair + 64 * (g % 2)), hb = Load(pair + 128);
      __m512i ia[N] = {}, ib[N] = {};
      DotQuads<N>(Quad(w, hb, g % 2, 0), Quad(w, hb, g % 2, 1), x, j, ia, ib);
      DotQuads<N>(Quad(w, hb, g % 2, 2), Quad(w, hb, g % 2, 3), x, j + 8, ia, ib);
      AddGroup16<N>(x, j, 4.0f, scales.Group(g), ia, ib, f);
    }
    const __m512 d = Fp16x16(blk);
    LEANLM_UNROLL
    for (int i = 0; i < N; ++i) acc[i] = _mm512_fmadd_ps(d, f[i], acc[i]);
  }
  template <class F>
  LEANLM_VNNI_INLINE static void Unpack(const uint8_t* blk, F&& group) {
    const Scales scales(blk);
    const __m512 d = Fp16x16(blk);
    const __m512i four = _mm512_set1_epi8(4);
    LEANLM_UNROLL
    for (int g = 0; g < 16; ++g) {
      const uint8_t* pair = blk + kPairs + kPairBytes * (g / 2);
      const __m512i w = Load(pair + 64 * (g % 2)), hb = Load(pair + 128);
      __m512i v[4];
      LEANLM_UNROLL
      for (int c = 0; c < 4; ++c) v[c] = _mm512_sub_epi8(Quad(w, hb, g % 2, c), four);
      group(g, v, _mm512_mul_ps(d, scales.Group(g)), _mm512_setzero_ps());
    }
  }
};

// ---- gemv: rows [r0, r1), whole groups ----

template <class T, int N>
LEANLM_VNNI void PackedGemvN(const WeightRef& w, const QuantizedActs& x, float* y, int64_t ldy, int64_t r0,
                             int64_t r1) {
  const size_t group_bytes = w.row_bytes * kRows;
  const int64_t blocks = w.k / T::kValues;
  for (int64_t r = r0; r < r1; r += kRows) {
    const uint8_t* group = w.data + (r / kRows) * group_bytes;
    __m512 acc[N];
    LEANLM_UNROLL
    for (int i = 0; i < N; ++i) acc[i] = _mm512_setzero_ps();
    for (int64_t b = 0; b < blocks; ++b) T::template Gemv<N>(group + b * T::kBytes, x, b, acc);
    LEANLM_UNROLL
    for (int i = 0; i < N; ++i) _mm512_storeu_ps(y + i * ldy + r, acc[i]);
  }
}

template <class T>
void PackedGemv(const WeightRef& w, const QuantizedActs& x, float* y, int64_t ldy, int64_t r0, int64_t r1) {
  LEANLM_CHECK(r0 % kRows == 0 && r1 % kRows == 0);
  const bool ran = WithGemvRows(x.n, [&](auto rows) { PackedGemvN<T, rows>(w, x, y, ldy, r0, r1); });
  LEANLM_CHECK(ran);
}

// ---- GEMM panels (layout in qmatmul_kernels.h), 16 rows at a time ----

template <class T>
LEANLM_VNNI void PackedPanels(const WeightRef& w, int64_t r0, int64_t rows, int64_t c0, int64_t kc, int nr,
                              uint8_t* dst) {
  LEANLM_CHECK(nr % kRows == 0 && r0 % kRows == 0 && rows % kRows == 0);
  LEANLM_CHECK(c0 % T::kValues == 0 && kc % T::kValues == 0);
  constexpr int G = T::kGroup;
  const size_t group_bytes = w.row_bytes * kRows;
  const int64_t groups = kc / G;
  const int64_t panels = (rows + nr - 1) / nr;
  const __m512i ones = _mm512_set1_epi8(1);
  for (int64_t p = 0; p < panels; ++p) {
    uint8_t* panel = dst + p * QPanelBytes(kc, nr, G);
    auto* ps = reinterpret_cast<float*>(panel + kc * nr);
    float* pb = ps + groups * nr;
    auto* pi = reinterpret_cast<int32_t*>(pb + groups * nr);
    for (int h = 0; h < nr; h += kRows) {
      const int64_t r = p * nr + h;  // within the tile
      if (r >= rows) {               // past the matrix: zeros
        for (int64_t t = 0; t < kc / 4; ++t) _mm512_storeu_si512(panel + (t * nr + h) * 4, _mm512_setzero_si512());
        for (int64_t g = 0; g < groups; ++g) {
          _mm512_storeu_ps(ps + g * nr + h, _mm512_setzero_ps());
          _mm512_storeu_ps(pb + g * nr + h, _mm512_setzero_ps());
          _mm512_storeu_si512(pi + g * nr + h, _mm512_setzero_si512());
        }
        continue;
      }
      const uint8_t* group = w.data + ((r0 + r) / kRows) * group_bytes;
      for (int64_t b = c0 / T::kValues; b < (c0 + kc) / T::kValues; ++b) {
        auto store = [&](int g, const __m512i* v, __m512 scale, __m512 bias) LEANLM_VNNI_LAMBDA {
          const int64_t col = b * T::kValues - c0 + g * G;  // the group's first column in the panel
          __m512i sum = _mm512_setzero_si512();
          LEANLM_UNROLL
          for (int a = 0; a < G / 4; ++a) {
            _mm512_storeu_si512(panel + ((col / 4 + a) * nr + h) * 4, v[a]);
            sum = _mm512_dpbusd_epi32(sum, ones, v[a]);
          }
          const int64_t at = col / G * nr + h;
          _mm512_storeu_ps(ps + at, scale);
          _mm512_storeu_ps(pb + at, bias);
          _mm512_storeu_si512(pi + at, _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(sum, 7)));
        };
        T::Unpack(group + b * T::kBytes, store);
      }
    }
  }
}

template <class T>
QMatMulKernels Kernels() {
  return {PackedGemv<T>, kQGemvMaxRows, PackedPanels<T>, 0, false};
}

}  // namespace

QMatMulKernels Avx512PackedQMatMulKernels(DType type) {
  switch (type) {
    case DType::kQ4_0: return Kernels<Q4_0>();
    case DType::kQ8_0: return Kernels<Q8_0>();
    case DType::kQ2_K: return Kernels<Q2_K>();
    case DType::kQ3_K: return Kernels<Q3_K>();
    case DType::kQ4_K: return Kernels<K45<false>>();
    case DType::kQ5_K: return Kernels<K45<true>>();
    case DType::kQ6_K: return Kernels<Q6_K>();
    default: return {};
  }
}

}  // namespace leanlm
