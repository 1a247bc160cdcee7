// Q4_0 (ggml type 2): blocks of 32 weights, x = d * (q - 8) with q in 0..15.
#pragma once

#include <cstdint>

namespace leanlm::quant {

inline constexpr int kQK4_0 = 32;

struct BlockQ4_0 {
  uint16_t d;              // scale, fp16
  uint8_t qs[kQK4_0 / 2];  // element j in the low nibble of qs[j], element j+16 in the high nibble
};
static_assert(sizeof(BlockQ4_0) == 18);

// n is a multiple of kQK4_0. Same bytes as ggml's quantize_row_q4_0_ref (what
// llama-quantize writes without an importance matrix).
void QuantizeRowQ4_0(const float* x, void* y, int64_t n);
void DequantizeRowQ4_0(const void* x, float* y, int64_t n);

}  // namespace leanlm::quant
