// Q5_1 (ggml type 7): blocks of 32 weights, x = d * q + m with q in 0..31.
#pragma once

#include <cstdint>

namespace leanlm::quant {

inline constexpr int kQK5_1 = 32;

struct BlockQ5_1 {
  uint16_t d;              // scale, fp16
  uint16_t m;              // minimum, fp16
  uint8_t qh[4];           // bit 4 of element j is bit j of this little-endian word
  uint8_t qs[kQK5_1 / 2];  // low 4 bits: element j low nibble of qs[j], element j+16 high nibble
};
static_assert(sizeof(BlockQ5_1) == 24);

// n is a multiple of kQK5_1. Same bytes as ggml's quantize_row_q5_1_ref.
void QuantizeRowQ5_1(const float* x, void* y, int64_t n);
void DequantizeRowQ5_1(const void* x, float* y, int64_t n);

}  // namespace leanlm::quant
