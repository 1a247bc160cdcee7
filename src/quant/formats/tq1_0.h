// TQ1_0 (ggml type 34): ternary super-blocks of 256 weights, x = d * t with
// t in {-1, 0, 1}, packed five trits per byte (1.6875 bits per weight).
#pragma once

#include <cstdint>

#include "quant/formats/block_common.h"

namespace leanlm::quant {

struct BlockTQ1_0 {
  uint8_t qs[(kQK_K - 4 * kQK_K / 64) / 5];  // 240 elements, 5 per byte; see tq1_0.cpp
  uint8_t qh[kQK_K / 64];                    // last 16 elements, 4 per byte
  uint16_t d;                                // scale, fp16
};
static_assert(sizeof(BlockTQ1_0) == 54);

// n is a multiple of 256. Same bytes as ggml's quantize_row_tq1_0_ref.
void QuantizeRowTQ1_0(const float* x, void* y, int64_t n);
void DequantizeRowTQ1_0(const void* x, float* y, int64_t n);

}  // namespace leanlm::quant
