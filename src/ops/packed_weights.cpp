// Packing (portable, one group of 16 rows at a time) and PackedMatMul, which
// runs the packed kernels (packed_avx512.cpp) through the integer path's
// drivers (qmatmul.cpp): their gemv chunks and GEMM tiles are multiples of 16
// rows, so every call sees whole groups.
#include "ops/packed_weights.h"

#include <cstring>

#include "base/cpu_features.h"
#include "ops/qmatmul_kernels.h"
#include "quant/formats/q4_0.h"
#include "quant/formats/q4_k.h"
#include "quant/formats/q5_k.h"
#include "quant/formats/q6_k.h"
#include "quant/formats/q8_0.h"

namespace leanlm {
namespace {

namespace q = quant;
constexpr int kRows = static_cast<int>(kPackRows);

// Value e (0..31) of a Q4_0 block, 0..15.
int Q4_0Value(const q::BlockQ4_0& b, int e) { return e < 16 ? b.qs[e] & 0xf : b.qs[e - 16] >> 4; }
// Value e (0..255) of a Q4_K super-block, 0..15.
int Q4_KValue(const q::BlockQ4_K& b, int e) {
  const int l = e % 64;
  const uint8_t byte = b.qs[32 * (e / 64) + l % 32];
  return l < 32 ? byte & 0xf : byte >> 4;
}
// Value e (0..255) of a Q5_K super-block, 0..31.
int Q5_KValue(const q::BlockQ5_K& b, int e) {
  const int l = e % 64;
  const uint8_t byte = b.qs[32 * (e / 64) + l % 32];
  return (l < 32 ? byte & 0xf : byte >> 4) | (((b.qh[e % 32] >> (e / 32)) & 1) << 4);
}
// Value e (0..255) of a Q6_K super-block, 0..63 (ggml's dequantize_row_q6_K).
int Q6_KValue(const q::BlockQ6_K& b, int e) {
  const int h = e / 128, quarter = (e % 128) / 32, l = e % 32;
  const uint8_t ql = b.ql[64 * h + l + 32 * (quarter % 2)];
  const int low = quarter < 2 ? ql & 0xf : ql >> 4;
  return low | (((b.qh[32 * h + l] >> (2 * quarter)) & 3) << 4);
}

// The nibble layout of a 4-bit block: qs[o][4r + t] = value(r, 8o + t) |
// value(r, 8o + 4 + t) << 4 for `octets` octets of 8 values from `first`.
template <class Value>
void PackNibbles(int first, int octets, const Value& value, uint8_t* qs) {
  for (int o = 0; o < octets; ++o) {
    for (int r = 0; r < kRows; ++r) {
      for (int t = 0; t < 4; ++t) {
        const int e = first + 8 * o + t;
        qs[64 * o + 4 * r + t] = static_cast<uint8_t>(value(r, e) | (value(r, e + 4) << 4));
      }
    }
  }
}

// One block column of a group: rows[r] points at row r's block.
void PackQ4_0(const q::BlockQ4_0* const* rows, uint8_t* dst) {
  auto* d = reinterpret_cast<uint16_t*>(dst);
  for (int r = 0; r < kRows; ++r) d[r] = rows[r]->d;
  PackNibbles(0, 4, [&](int r, int e) { return Q4_0Value(*rows[r], e); }, dst + 2 * kRows);
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
  uint8_t* scales = dst + 4 * kRows;
  for (int r = 0; r < kRows; ++r) {
    d[r] = rows[r]->d;
    d[kRows + r] = rows[r]->dmin;
    for (int w = 0; w < 3; ++w) std::memcpy(scales + 4 * (kRows * w + r), rows[r]->scales + 4 * w, 4);
  }
}

void PackQ4_K(const q::BlockQ4_K* const* rows, uint8_t* dst) {
  PackKHeader(rows, dst);
  for (int j = 0; j < 8; ++j) {
    PackNibbles(32 * j, 4, [&](int r, int e) { return Q4_KValue(*rows[r], e); }, dst + 256 + 256 * j);
  }
}

// Q5_K: per sub-block j, the nibbles as Q4_K's, then qh[4r + t] with bit 4
// of value 8o + t in bit o and of value 8o + 4 + t in bit 4 + o.
void PackQ5_K(const q::BlockQ5_K* const* rows, uint8_t* dst) {
  PackKHeader(rows, dst);
  for (int j = 0; j < 8; ++j) {
    uint8_t* at = dst + 256 + 320 * j;
    PackNibbles(32 * j, 4, [&](int r, int e) { return Q5_KValue(*rows[r], e) & 0xf; }, at);
    for (int r = 0; r < kRows; ++r) {
      for (int t = 0; t < 4; ++t) {
        int bits = 0;
        for (int o = 0; o < 4; ++o) {
          bits |= (Q5_KValue(*rows[r], 32 * j + 8 * o + t) >> 4) << o;
          bits |= (Q5_KValue(*rows[r], 32 * j + 8 * o + 4 + t) >> 4) << (4 + o);
        }
        at[256 + 4 * r + t] = static_cast<uint8_t>(bits);
      }
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
  for (int g = 0; g < 16; ++g) {
    uint8_t* at = dst + 2 * kRows + 16 * kRows + 192 * g;
    PackNibbles(16 * g, 2, [&](int r, int e) { return Q6_KValue(*rows[r], e) & 0xf; }, at);
    for (int r = 0; r < kRows; ++r) {
      for (int t = 0; t < 4; ++t) {
        int bits = 0;
        for (int a = 0; a < 4; ++a) bits |= (Q6_KValue(*rows[r], 16 * g + 4 * a + t) >> 4) << (2 * a);
        at[128 + 4 * r + t] = static_cast<uint8_t>(bits);
      }
    }
  }
}

template <class Block>
void PackGroups(const TensorView& w, void (*pack_block)(const Block* const*, uint8_t*), uint8_t* dst,
                ThreadPool& pool) {
  const int64_t blocks = w.cols() / static_cast<int64_t>(GetTypeTraits(w.type).block_size);
  const size_t group_bytes = w.row_bytes() * kPackRows;
  pool.ParallelFor(w.rows() / kPackRows, 1, [&](int64_t g0, int64_t g1) {
    const Block* rows[kRows];
    for (int64_t g = g0; g < g1; ++g) {
      for (int64_t b = 0; b < blocks; ++b) {
        for (int r = 0; r < kRows; ++r) rows[r] = reinterpret_cast<const Block*>(w.row(g * kPackRows + r)) + b;
        pack_block(rows, dst + g * group_bytes + b * kPackRows * sizeof(Block));
      }
    }
  });
}

bool PackableType(DType type) {
  return type == DType::kQ4_0 || type == DType::kQ8_0 || type == DType::kQ4_K || type == DType::kQ5_K ||
         type == DType::kQ6_K;
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
