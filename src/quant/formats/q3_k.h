// Q3_K (ggml type 11): super-blocks of 256 weights in 16 groups of 16,
// x = d * (sc - 32) * (q - 4) with q in 0..7 and a 6-bit sc per group.
#pragma once

#include <cstdint>

namespace leanlm::quant {

struct BlockQ3_K {
  uint8_t hmask[32];   // bit 2 of the quants: element j's bit is bit j/32 of hmask[j%32]
  uint8_t qs[64];      // bits 0-1 of the quants, laid out as in Q2_K
  uint8_t scales[12];  // 16 6-bit scales: low nibbles in bytes 0-7, high 2 bits in bytes 8-11
  uint16_t d;          // super-block scale, fp16
};
static_assert(sizeof(BlockQ3_K) == 110);

// n is a multiple of 256. Same bytes as ggml's quantize_row_q3_K_ref.
void QuantizeRowQ3_K(const float* x, void* y, int64_t n);
void DequantizeRowQ3_K(const void* x, float* y, int64_t n);

}  // namespace leanlm::quant
