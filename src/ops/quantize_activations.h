// Activations rounded to int8 for the integer kernels of block-quantized
// weights (as ggml's vec_dot_type): each block of 32 values of a row gets a
// scale d = max|x| / 127 and quants q = round(x / d) in -127..127, so every
// value moves by at most d / 2. MatMul quantizes x once per call; the kernels
// then dot weight quants with q in integers and scale per block in F32.
//
// Besides q, each row keeps per-lane data (a lane is 4 consecutive values,
// what one 32-bit lane of vpdpbusd / pmaddubsw sums) so that the SIMD kernels
// need no shuffles to apply block scales and weight offsets:
//   dl[j / 4]  = d of the block holding value j          (F32)
//   nls[j / 4] = -(q[j] + q[j+1] + q[j+2] + q[j+3]) · 2^nls_shift  (int32, j % 4 == 0)
//   sl[j / 4]  = d · (q[j] + ... + q[j+3])                (F32)
// per block db[b] = d and sb[b] = d · Σ q over the block, and per half block
// sg[j / 16] = d · (q[j] + ... + q[j+15]) (F32, for 16-value weight groups). nls_shift is the
// weight offset the gemv subtracts (8 for Q4_0: Σ (u - 8)·q starts at
// nls), chosen per call by MatMul.
//
// With `interleaved`, each whole unit of 128 values (4 blocks) is also
// stored in the order of 4-bit weights split into low and high nibbles:
//   iq[128u + 16b + t]      = q[128u + 32b + t]        (t < 16: low halves)
//   iq[128u + 64 + 16b + t] = q[128u + 32b + 16 + t]   (high halves)
// so lane L of both 64-value halves holds block 4u + L/4, and the kernel sums
// both halves in int32 before one scaling: per unit, 16 lanes of
//   inls[16u + L] = nls-style sum over the lane's 8 values, idl[16u + L] = d.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/thread_pool.h"

namespace leanlm {

inline constexpr int64_t kActBlock = 32;  // values per activation scale
inline constexpr int64_t kActLane = 4;    // values per lane

// n rows of k values (k a multiple of kActBlock), all arrays row-major.
struct QuantizedActs {
  int64_t n = 0;
  int64_t k = 0;
  int8_t* qs = nullptr;    // (n × k)
  float* dl = nullptr;     // (n × k/4)
  int32_t* nls = nullptr;  // (n × k/4)
  float* sl = nullptr;     // (n × k/4)
  float* sb = nullptr;     // (n × k/32)
  float* db = nullptr;     // (n × k/32): d per block
  float* sg = nullptr;     // (n × k/16)
  int nls_shift = 0;
  bool interleaved = false;
  int8_t* iq = nullptr;     // (n × k), whole units only
  int32_t* inls = nullptr;  // (n × k/8)
  float* idl = nullptr;     // (n × k/8)

  const int8_t* q_row(int64_t i) const { return qs + i * k; }
  const float* dl_row(int64_t i) const { return dl + i * (k / kActLane); }
  const int32_t* nls_row(int64_t i) const { return nls + i * (k / kActLane); }
  const float* sl_row(int64_t i) const { return sl + i * (k / kActLane); }
  const float* sb_row(int64_t i) const { return sb + i * (k / kActBlock); }
  const float* db_row(int64_t i) const { return db + i * (k / kActBlock); }
  const float* sg_row(int64_t i) const { return sg + i * (k / 16); }
  const int8_t* iq_row(int64_t i) const { return iq + i * k; }
  const int32_t* inls_row(int64_t i) const { return inls + i * (k / 8); }
  const float* idl_row(int64_t i) const { return idl + i * (k / 8); }
  // The scale of block b (values [32b, 32b + 32)) of row i.
  float d(int64_t i, int64_t b) const { return dl_row(i)[b * (kActBlock / kActLane)]; }
};

// Bytes of the buffer QuantizedActsIn needs for n rows of k values.
size_t QuantizedActsBytes(int64_t n, int64_t k);
// Lays the arrays out in `buffer` (64-byte aligned, QuantizedActsBytes long).
QuantizedActs QuantizedActsIn(void* buffer, int64_t n, int64_t k, int nls_shift = 0, bool interleaved = false);

// Quantizes rows [i0, i1) of x (n × k, F32) into q.
void QuantizeActivationRows(const float* x, int64_t i0, int64_t i1, const QuantizedActs& q);

// Quantizes all of x into q, in parallel when there are many rows. Must not
// be called from inside one of the pool's parallel regions.
void QuantizeActivations(const float* x, const QuantizedActs& q, ThreadPool& pool);

}  // namespace leanlm
