// Q6_K (ggml type 14): super-blocks of 256 weights in 16 groups of 16,
// x = d * sc * (q - 32) with q in 0..63 and a signed 8-bit sc per group.
#pragma once

#include <cstdint>

#include "quant/formats/block_common.h"

namespace leanlm::quant {

struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];      // bits 0-3; see the layout in q6_k.cpp
  uint8_t qh[kQK_K / 4];      // bits 4-5
  int8_t scales[kQK_K / 16];  // group scales
  uint16_t d;                 // super-block scale, fp16
};
static_assert(sizeof(BlockQ6_K) == 210);

// n is a multiple of 256. Same bytes as ggml's quantize_row_q6_K_ref.
void QuantizeRowQ6_K(const float* x, void* y, int64_t n);
void DequantizeRowQ6_K(const void* x, float* y, int64_t n);

}  // namespace leanlm::quant
