// Q2_K (ggml type 10): super-blocks of 256 weights in 16 groups of 16,
// x = d * sc * q - dmin * m with q in 0..3 and 4-bit sc, m per group.
#pragma once

#include <cstdint>

namespace leanlm::quant {

struct BlockQ2_K {
  uint8_t scales[16];  // group g: scale in the low nibble, min in the high nibble
  uint8_t qs[64];      // 2-bit quants; see the layout in q2_k.cpp
  uint16_t d;          // super-block scale of the group scales, fp16
  uint16_t dmin;       // super-block scale of the group mins, fp16
};
static_assert(sizeof(BlockQ2_K) == 84);

// n is a multiple of 256. Same bytes as ggml's quantize_row_q2_K_ref.
void QuantizeRowQ2_K(const float* x, void* y, int64_t n);
void DequantizeRowQ2_K(const void* x, float* y, int64_t n);

}  // namespace leanlm::quant
