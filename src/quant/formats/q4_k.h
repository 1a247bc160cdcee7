// Q4_K (ggml type 12): super-blocks of 256 weights in 8 groups of 32,
// x = d * sc * q - dmin * m with q in 0..15 and 6-bit sc, m per group.
#pragma once

#include <cstdint>

#include "quant/formats/block_common.h"

namespace leanlm::quant {

struct BlockQ4_K {
  uint16_t d;                   // super-block scale of the group scales, fp16
  uint16_t dmin;                // super-block scale of the group mins, fp16
  uint8_t scales[kKScaleSize];  // 6-bit scales and mins, packed (GetScaleMinK4)
  uint8_t qs[kQK_K / 2];        // per 64 elements: 32 bytes, first 32 in low nibbles, next 32 in high
};
static_assert(sizeof(BlockQ4_K) == 144);

// n is a multiple of 256. Same bytes as ggml's quantize_row_q4_K_ref.
void QuantizeRowQ4_K(const float* x, void* y, int64_t n);
void DequantizeRowQ4_K(const void* x, float* y, int64_t n);

}  // namespace leanlm::quant
