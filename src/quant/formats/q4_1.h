// Q4_1 (ggml type 3): blocks of 32 weights, x = d * q + m with q in 0..15.
#pragma once

#include <cstdint>

namespace leanlm::quant {

inline constexpr int kQK4_1 = 32;

struct BlockQ4_1 {
  uint16_t d;              // scale, fp16
  uint16_t m;              // minimum, fp16
  uint8_t qs[kQK4_1 / 2];  // element j in the low nibble of qs[j], element j+16 in the high nibble
};
static_assert(sizeof(BlockQ4_1) == 20);

// n is a multiple of kQK4_1. Same bytes as ggml's quantize_row_q4_1_ref.
void QuantizeRowQ4_1(const float* x, void* y, int64_t n);
void DequantizeRowQ4_1(const void* x, float* y, int64_t n);

}  // namespace leanlm::quant
