// Weights re-laid for decoding ("packed"), as llama.cpp repacks Q4_0 for its
// AArch64/AVX kernels: rows in groups of 16, each block of a group stored
// with the 16 rows' quants interleaved four values at a time, so one 64-byte
// load holds 4 values of each of 16 rows and one vpdpbusd against 4
// broadcast activation quants gives the 16 rows' partial sums in its 16
// lanes. The row-major GGUF layout instead needs a shuffle and a float
// scaling per 64 values of one row; packed, the decode does about half the
// work per weight, and the scales of 16 rows load as one vector.
//
// Packing keeps the bytes of every block (a group of 16 rows takes exactly
// the bytes of its 16 GGUF rows) and needs rows % 16 == 0. Q4_0, Q8_0, Q2_K,
// Q3_K, Q4_K, Q5_K and Q6_K pack (all that llama.cpp's Q4_0, Q8_0, Q2_K,
// Q3_K_M, Q4_K_M and Q5_K_M files hold), on CPUs with AVX-512 VNNI. Per block
// of 16 rows (block b of each row), in order:
//   Q4_0: fp16 d[16]; u8 qs[4][64]
//   Q8_0: fp16 d[16]; i8 qs[8][64]
//   Q2_K: fp16 d[16], dmin[16]; u8 scales[16][16] (group, row); per group
//         of 16 values: u8 qs[64]
//   Q3_K: fp16 d[16]; u32 scales[3][16] (as Q4_K's); per pair of groups:
//         u8 qs[2][64] (one per group), hb[64]: bit 2 of value 4c + t of
//         the first group in bit c, of the second in bit 4 + c
//   Q4_K: fp16 d[16], dmin[16]; u32 scales[3][16] (dword w of each row's 12
//         scale bytes); u8 qs[8][4][64]
//   Q5_K: as Q4_K, with each sub-block's qs[j] followed by u8 qh[64]: bit 4
//         of value 8o + t in bit o and of value 8o + 4 + t in bit 4 + o
//   Q6_K: fp16 d[16]; i8 scales[16][16] (group, row); per group g of 16
//         values: u8 ql[2][64], qh[64]
// where a 4-bit qs[.., o][4r + t] (and Q6_K's ql[o]) holds value 8o + t of
// row r (within the block, its 32-value sub-block or Q6_K's group) in the low
// nibble and value 8o + 4 + t in the high one, Q8_0's qs[a][4r + t] holds
// value 4a + t, Q2_K's and Q3_K's qs[4r + t] hold bits 0-1 of value 4c + t
// of the group in bits 2c..2c+1, and Q6_K's qh[4r + t] holds bits 4-5 of
// value 4a + t of the group in bits 2a..2a+1. Each block is read front to
// back.
// Packed weights serve inference only (MatMul of the forward pass); the
// model keeps its GGUF views for everything else.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/tensor.h"
#include "base/thread_pool.h"

namespace leanlm {

inline constexpr int64_t kPackRows = 16;

// A packed weight: m rows of k values of `type`, laid out as above.
struct PackedWeight {
  const uint8_t* data = nullptr;
  DType type = DType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  bool valid() const { return data != nullptr; }
};

// Whether w (a 2-D weight) can be packed and this CPU has the kernels.
bool CanPackWeight(const TensorView& w);

// Packs w (CanPackWeight) into dst, w.bytes() bytes.
void PackWeight(const TensorView& w, uint8_t* dst, ThreadPool& pool);

// y (n × rows) = x (n × cols) · Wᵀ, as MatMul does for the unpacked weight:
// x is rounded to int8 per block of 32 and dotted in integers.
void PackedMatMul(const PackedWeight& w, const float* x, int64_t n, float* y, ThreadPool& pool);

// PackedMatMul of `count` weights of the same depth (cols) over the same x,
// y[i] for w[i]: decode (n ≤ 4) quantizes x once and runs all weights' rows in
// one parallel pass (Q, K and V; gate and up).
void PackedMatMulMany(const PackedWeight* const* w, float* const* y, int count, const float* x, int64_t n,
                      ThreadPool& pool);

}  // namespace leanlm
