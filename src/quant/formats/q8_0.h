// Q8_0 (ggml type 8): blocks of 32 weights, x = d * q with q in -127..127.
#pragma once

#include <cstdint>

namespace leanlm::quant {

inline constexpr int kQK8_0 = 32;

struct BlockQ8_0 {
  uint16_t d;         // scale, fp16
  int8_t qs[kQK8_0];  // quants
};
static_assert(sizeof(BlockQ8_0) == 34);

// n is a multiple of kQK8_0. Same bytes as ggml's quantize_row_q8_0_ref.
void QuantizeRowQ8_0(const float* x, void* y, int64_t n);
void DequantizeRowQ8_0(const void* x, float* y, int64_t n);

}  // namespace leanlm::quant
