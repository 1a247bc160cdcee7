// IQ4_NL (ggml type 20): blocks of 32 weights, x = d * kIq4nlValues[q] with
// q in 0..15 indexing a fixed non-linear grid of 16 int8 values.
#pragma once

#include <cstdint>

namespace leanlm::quant {

inline constexpr int kQK4_NL = 32;

// ggml's kvalues_iq4nl: the non-uniform grid, denser near zero.
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

struct BlockIQ4_NL {
  uint16_t d;               // scale, fp16
  uint8_t qs[kQK4_NL / 2];  // grid indices: element j low nibble of qs[j], element j+16 high nibble
};
static_assert(sizeof(BlockIQ4_NL) == 18);

// n is a multiple of kQK4_NL. Same bytes as ggml's quantize_iq4_nl with no
// importance matrix (what llama-quantize writes: a 15-step scale search,
// weights x^2), not quantize_row_iq4_nl_ref.
void QuantizeRowIQ4_NL(const float* x, void* y, int64_t n);
void DequantizeRowIQ4_NL(const void* x, float* y, int64_t n);

}  // namespace leanlm::quant
