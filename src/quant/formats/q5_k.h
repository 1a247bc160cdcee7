// Q5_K (ggml type 13): super-blocks of 256 weights in 8 groups of 32,
// x = d * sc * q - dmin * m with q in 0..31 and 6-bit sc, m per group.
#pragma once

#include <cstdint>

#include "quant/formats/block_common.h"

namespace leanlm::quant {

struct BlockQ5_K {
  uint16_t d;                   // super-block scale of the group scales, fp16
  uint16_t dmin;                // super-block scale of the group mins, fp16
  uint8_t scales[kKScaleSize];  // 6-bit scales and mins, packed (GetScaleMinK4)
  uint8_t qh[kQK_K / 8];        // bit 4: element 64*p + j in bit 2p of qh[j], element 64*p + 32 + j in bit 2p+1
  uint8_t qs[kQK_K / 2];        // bits 0-3, laid out as Q4_K's nibbles
};
static_assert(sizeof(BlockQ5_K) == 176);

// n is a multiple of 256. Same bytes as ggml's quantize_row_q5_K_ref.
void QuantizeRowQ5_K(const float* x, void* y, int64_t n);
void DequantizeRowQ5_K(const void* x, float* y, int64_t n);

}  // namespace leanlm::quant
