// Packing (portable, one group of 16 rows at a time) and PackedMatMul, which
// runs the packed kernels (packed_avx512.cpp) through the integer path's
// drivers (qmatmul.cpp): their gemv chunks and GEMM tiles are multiples of 16
// rows, so every call sees whole groups.
#include "ops/packed_weights.h"

#include <cstring>

#include "base/cpu_features.h"
#include "ops/qmatmul_kernels.h"
#include "quant/formats/q2_k.h"
#include "quant/formats/q3_k.h"
#include "quant/formats/q4_0.h"
#include "quant/formats/q4_k.h"
#include "quant/formats/q5_k.h"
#include "quant/formats/q6_k.h"
#include "quant/formats/q8_0.h"

namespace leanlm {
namespace {

namespace q = quant;
constexpr int kRows = static_cast<int>(kPackRows);

// Each block's unsigned values, decoded once per block before they are
// interleaved (the packers below read them many times).
using Values = uint8_t[kRows][256];

// Q4_0: 0..15.
void Decode(const q::BlockQ4_0& b, uint8_t* v) {
  for (int l = 0; l < 16; ++l) {
    v[l] = b.qs[l] & 0xf;
    v[l + 16] = b.qs[l] >> 4;
  }
}
// The 2-bit value e of Q2_K's and Q3_K's qs (ggml's dequantize_row_q2_K):
// value 128h + 32s + l is bits 2s..2s+1 of qs[32h + l].
int TwoBits(const uint8_t* qs, int e) { return (qs[32 * (e / 128) + e % 32] >> (2 * (e % 128 / 32))) & 3; }

// Q2_K: 0..3.
void Decode(const q::BlockQ2_K& b, uint8_t* v) {
  for (int e = 0; e < 256; ++e) v[e] = static_cast<uint8_t>(TwoBits(b.qs, e));
}
// Q3_K: 0..7, Q2_K's two bits plus bit 2 from hmask (bit 4h + s of
// hmask[l] for value 128h + 32s + l); the weight is d·sc·(v - 4).
void Decode(const q::BlockQ3_K& b, uint8_t* v) {
  for (int e = 0; e < 256; ++e) {
    const int high = (b.hmask[e % 32] >> (e / 32)) & 1;
    v[e] = static_cast<uint8_t>(TwoBits(b.qs, e) | high << 2);
  }
}
// Q4_K: 0..15; per 64 values, 32 bytes: low nibbles, then high ones.
void Decode(const q::BlockQ4_K& b, uint8_t* v) {
  for (int p = 0; p < 4; ++p) {
    for (int l = 0; l < 32; ++l) {
      v[64 * p + l] = b.qs[32 * p + l] & 0xf;
      v[64 * p + 32 + l] = b.qs[32 * p + l] >> 4;
    }
  }
}
// Q5_K: 0..31; Q4_K's nibbles, bit 4 of value e in bit e / 32 of qh[e % 32].
void Decode(const q::BlockQ5_K& b, uint8_t* v) {
  for (int p = 0; p < 4; ++p) {
    for (int l = 0; l < 32; ++l) {
      v[64 * p + l] = static_cast<uint8_t>((b.qs[32 * p + l] & 0xf) | (((b.qh[l] >> (2 * p)) & 1) << 4));
      v[64 * p + 32 + l] = static_cast<uint8_t>((b.qs[32 * p + l] >> 4) | (((b.qh[l] >> (2 * p + 1)) & 1) << 4));
    }
  }
}
// Q6_K: 0..63 (ggml's dequantize_row_q6_K).
void Decode(const q::BlockQ6_K& b, uint8_t* v) {
  for (int h = 0; h < 2; ++h) {
    const uint8_t* ql = b.ql + 64 * h;
    const uint8_t* qh = b.qh + 32 * h;
    uint8_t* y = v + 128 * h;
    for (int l = 0; l < 32; ++l) {
      y[l] = static_cast<uint8_t>((ql[l] & 0xf) | ((qh[l] & 3) << 4));
      y[l + 32] = static_cast<uint8_t>((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4));
      y[l + 64] = static_cast<uint8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
      y[l + 96] = static_cast<uint8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
    }
  }
}

template <class Block>
void DecodeRows(const Block* const* rows, Values& v) {
  for (int r = 0; r < kRows; ++r) Decode(*rows[r], v[r]);
}

// Four consecutive values of a row as one word (byte t = value t).
uint32_t Four(const Values& v, int r, int e) {
  uint32_t w;
  std::memcpy(&w, &v[r][e], 4);
  return w;
}
void StoreFour(uint32_t w, uint8_t* at) { std::memcpy(at, &w, 4); }

// The nibble layout: qs[o][4r + t] = the low 4 bits of v[r][8o + t] |
// those of v[r][8o + 4 + t] << 4, for `octets` octets of 8 values from `first`.
void PackNibbles(const Values& v, int first, int octets, uint8_t* qs) {
  constexpr uint32_t kLow4 = 0x0f0f0f0f;
  for (int o = 0; o < octets; ++o) {
    const int e = first + 8 * o;
    for (int r = 0; r < kRows; ++r) {
      StoreFour((Four(v, r, e) & kLow4) | ((Four(v, r, e + 4) & kLow4) << 4), qs + 64 * o + 4 * r);
    }
  }
}

// The 2-bit layout: qs[4r + t] = bits 0-1 of v[r][first + 4c + t] in bits
// 2c..2c+1, c = 0..3 (one group of 16 values).
void PackCrumbs(const Values& v, int first, uint8_t* qs) {
  for (int r = 0; r < kRows; ++r) {
    uint32_t w = 0;
    for (int c = 0; c < 4; ++c) w |= (Four(v, r, first + 4 * c) & 0x03030303) << (2 * c);
    StoreFour(w, qs + 4 * r);
  }
}

// Each row's 12 scale bytes as three dwords, [w][row].
template <class Block>
void PackScaleDwords(const Block* const* rows, uint8_t* scales) {
  for (int r = 0; r < kRows; ++r) {
    for (int w = 0; w < 3; ++w) std::memcpy(scales + 4 * (kRows * w + r), rows[r]->scales + 4 * w, 4);
  }
}

// One block column of a group: rows[r] points at row r's block.
void PackQ4_0(const q::BlockQ4_0* const* rows, uint8_t* dst) {
  auto* d = reinterpret_cast<uint16_t*>(dst);
  for (int r = 0; r < kRows; ++r) d[r] = rows[r]->d;
  Values v;
  DecodeRows(rows, v);
  PackNibbles(v, 0, 4, dst + 2 * kRows);
}

void PackQ8_0(const q::BlockQ8_0* const* rows, uint8_t* dst) {
  auto* d = reinterpret_cast<uint16_t*>(dst);
  uint8_t* qs = dst + 2 * kRows;
  for (int r = 0; r < kRows; ++r) {
    d[r] = rows[r]->d;
    for (int a = 0; a < 8; ++a) std::memcpy(qs + 64 * a + 4 * r, rows[r]->qs + 4 * a, 4);
  }
}

// The header Q4_K and Q5_K share: d[16], dmin[16], then the 12 scale bytes
// of each row as three dwords, [w][row].
template <class Block>
void PackKHeader(const Block* const* rows, uint8_t* dst) {
  auto* d = reinterpret_cast<uint16_t*>(dst);
  for (int r = 0; r < kRows; ++r) {
    d[r] = rows[r]->d;
    d[kRows + r] = rows[r]->dmin;
  }
  PackScaleDwords(rows, dst + 4 * kRows);
}

void PackQ4_K(const q::BlockQ4_K* const* rows, uint8_t* dst) {
  PackKHeader(rows, dst);
  Values v;
  DecodeRows(rows, v);
  for (int j = 0; j < 8; ++j) PackNibbles(v, 32 * j, 4, dst + 256 + 256 * j);
}

// Q5_K: per sub-block j, the nibbles as Q4_K's, then qh[4r + t] with bit 4
// of value 8o + t in bit o and of value 8o + 4 + t in bit 4 + o.
void PackQ5_K(const q::BlockQ5_K* const* rows, uint8_t* dst) {
  PackKHeader(rows, dst);
  Values v;
  DecodeRows(rows, v);
  for (int j = 0; j < 8; ++j) {
    uint8_t* at = dst + 256 + 320 * j;
    PackNibbles(v, 32 * j, 4, at);
    for (int r = 0; r < kRows; ++r) {
      uint32_t bits = 0;
      for (int o = 0; o < 4; ++o) {
        bits |= ((Four(v, r, 32 * j + 8 * o) >> 4) & 0x01010101) << o;
        bits |= ((Four(v, r, 32 * j + 8 * o + 4) >> 4) & 0x01010101) << (4 + o);
      }
      StoreFour(bits, at + 256 + 4 * r);
    }
  }
}

void PackQ6_K(const q::BlockQ6_K* const* rows, uint8_t* dst) {
  auto* d = reinterpret_cast<uint16_t*>(dst);
  auto* scales = reinterpret_cast<int8_t*>(dst + 2 * kRows);
  for (int r = 0; r < kRows; ++r) {
    d[r] = rows[r]->d;
    for (int g = 0; g < 16; ++g) scales[kRows * g + r] = rows[r]->scales[g];
  }
  // Per group of 16 values, in the order the kernel reads them: the low
  // 4 bits as two nibble vectors, then the high 2 bits.
  Values v;
  DecodeRows(rows, v);
  for (int g = 0; g < 16; ++g) {
    uint8_t* at = dst + 2 * kRows + 16 * kRows + 192 * g;
    PackNibbles(v, 16 * g, 2, at);
    for (int r = 0; r < kRows; ++r) {
      uint32_t bits = 0;
      for (int a = 0; a < 4; ++a) bits |= ((Four(v, r, 16 * g + 4 * a) >> 4) & 0x03030303) << (2 * a);
      StoreFour(bits, at + 128 + 4 * r);
    }
  }
}

void PackQ2_K(const q::BlockQ2_K* const* rows, uint8_t* dst) {
  auto* d = reinterpret_cast<uint16_t*>(dst);
  uint8_t* scales = dst + 4 * kRows;
  for (int r = 0; r < kRows; ++r) {
    d[r] = rows[r]->d;
    d[kRows + r] = rows[r]->dmin;
    for (int g = 0; g < 16; ++g) scales[kRows * g + r] = rows[r]->scales[g];
  }
  Values v;
  DecodeRows(rows, v);
  for (int g = 0; g < 16; ++g) PackCrumbs(v, 16 * g, dst + 20 * kRows + 64 * g);
}

// Q3_K: per pair of groups, the two groups' low bits, then their bit 2:
// hb[4r + t] holds that of value 4c + t of the first group in bit c and of
// the second group in bit 4 + c.
void PackQ3_K(const q::BlockQ3_K* const* rows, uint8_t* dst) {
  auto* d = reinterpret_cast<uint16_t*>(dst);
  for (int r = 0; r < kRows; ++r) d[r] = rows[r]->d;
  PackScaleDwords(rows, dst + 2 * kRows);
  Values v;
  DecodeRows(rows, v);
  for (int p = 0; p < 8; ++p) {
    uint8_t* at = dst + 14 * kRows + 192 * p;
    PackCrumbs(v, 32 * p, at);
    PackCrumbs(v, 32 * p + 16, at + 64);
    for (int r = 0; r < kRows; ++r) {
      uint32_t bits = 0;
      for (int h = 0; h < 2; ++h) {
        for (int c = 0; c < 4; ++c) bits |= ((Four(v, r, 32 * p + 16 * h + 4 * c) >> 2) & 0x01010101) << (4 * h + c);
      }
      StoreFour(bits, at + 128 + 4 * r);
    }
  }
}

template <class Block>
void PackGroups(const TensorView& w, void (*pack_block)(const Block* const*, uint8_t*), uint8_t* dst,
                ThreadPool& pool) {
  const int64_t blocks = w.cols() / static_cast<int64_t>(GetTypeTraits(w.type).block_size);
  const size_t row_bytes = w.row_bytes(), group_bytes = row_bytes * kPackRows;
  const auto* src = static_cast<const uint8_t*>(w.data);
  pool.ParallelFor(w.rows() / kPackRows, 1, [&](int64_t g0, int64_t g1) {
    const Block* rows[kRows];
    for (int64_t g = g0; g < g1; ++g) {
      const uint8_t* group = src + g * group_bytes;
      for (int64_t b = 0; b < blocks; ++b) {
        for (int r = 0; r < kRows; ++r) rows[r] = reinterpret_cast<const Block*>(group + r * row_bytes) + b;
        pack_block(rows, dst + g * group_bytes + b * kPackRows * sizeof(Block));
      }
    }
  });
}

bool PackableType(DType type) {
  return type == DType::kQ4_0 || type == DType::kQ8_0 || type == DType::kQ2_K || type == DType::kQ3_K ||
         type == DType::kQ4_K || type == DType::kQ5_K || type == DType::kQ6_K;
}

QMatMulKernels KernelsOf(const PackedWeight& w) {
  LEANLM_CHECK(w.valid() && w.rows % kPackRows == 0);
  const QMatMulKernels kernels = Avx512PackedQMatMulKernels(w.type);
  LEANLM_CHECK(kernels.gemv != nullptr);
  return kernels;
}

WeightRef RefOf(const PackedWeight& w) {
  return {w.data, static_cast<size_t>(w.cols / GetTypeTraits(w.type).block_size) * GetTypeTraits(w.type).type_size,
          w.cols, w.type};
}

}  // namespace

bool CanPackWeight(const TensorView& w) {
  if (!PackableType(w.type) || w.n_dims != 2 || w.rows() % kPackRows != 0) return false;
  if (w.cols() % GetTypeTraits(w.type).block_size != 0) return false;
  return ActiveCpuLevel() >= CpuLevel::kAvx512 && DetectedCpuFeatures().avx512vnni;
}

void PackWeight(const TensorView& w, uint8_t* dst, ThreadPool& pool) {
  LEANLM_CHECK(CanPackWeight(w));
  switch (w.type) {
    case DType::kQ4_0: return PackGroups<q::BlockQ4_0>(w, PackQ4_0, dst, pool);
    case DType::kQ8_0: return PackGroups<q::BlockQ8_0>(w, PackQ8_0, dst, pool);
    case DType::kQ2_K: return PackGroups<q::BlockQ2_K>(w, PackQ2_K, dst, pool);
    case DType::kQ3_K: return PackGroups<q::BlockQ3_K>(w, PackQ3_K, dst, pool);
    case DType::kQ4_K: return PackGroups<q::BlockQ4_K>(w, PackQ4_K, dst, pool);
    case DType::kQ5_K: return PackGroups<q::BlockQ5_K>(w, PackQ5_K, dst, pool);
    case DType::kQ6_K: return PackGroups<q::BlockQ6_K>(w, PackQ6_K, dst, pool);
    default: LEANLM_CHECK(false);
  }
}

void PackedMatMul(const PackedWeight& w, const float* x, int64_t n, float* y, ThreadPool& pool) {
  const QMatMulKernels kernels = KernelsOf(w);
  if (n == 0 || w.rows == 0) return;
  QuantizedMatMul(kernels, CpuLevel::kAvx512, RefOf(w), x, n, y, w.rows, pool);
}

void PackedMatMulMany(const PackedWeight* const* w, float* const* y, int count, const float* x, int64_t n,
                      ThreadPool& pool) {
  constexpr int kMaxMany = 8;
  if (n > kQGemvMaxRows || count > kMaxMany) {
    for (int i = 0; i < count; ++i) PackedMatMul(*w[i], x, n, y[i], pool);
    return;
  }
  if (n == 0 || count == 0) return;
  QMatMulKernels kernels[kMaxMany];
  WeightRef refs[kMaxMany];
  int64_t rows[kMaxMany];
  for (int i = 0; i < count; ++i) {
    kernels[i] = KernelsOf(*w[i]);
    refs[i] = RefOf(*w[i]);
    rows[i] = w[i]->rows;
  }
  QuantizedGemvMany(kernels, refs, rows, y, count, x, n, pool);
}

}  // namespace leanlm
