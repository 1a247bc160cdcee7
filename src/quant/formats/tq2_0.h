// TQ2_0 (ggml type 35): ternary super-blocks of 256 weights, x = d * (q - 1)
// with q in 0..2 stored in 2 bits (2.0625 bits per weight).
#pragma once

#include <cstdint>

#include "quant/formats/block_common.h"

namespace leanlm::quant {

struct BlockTQ2_0 {
  uint8_t qs[kQK_K / 4];  // per 128 elements, 32 bytes: element 32*k + m in bits 2k..2k+1 of byte m
  uint16_t d;             // scale, fp16
};
static_assert(sizeof(BlockTQ2_0) == 66);

// n is a multiple of 256. Same bytes as ggml's quantize_row_tq2_0_ref.
void QuantizeRowTQ2_0(const float* x, void* y, int64_t n);
void DequantizeRowTQ2_0(const void* x, float* y, int64_t n);

}  // namespace leanlm::quant
