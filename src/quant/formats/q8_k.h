// Q8_K (ggml type 15): super-blocks of 256 values, x = d * q with an fp32 d
// and q in -128..127, plus sums of each 16 quants. ggml uses it for
// activations in K-quant dot products, never in model files.
#pragma once

#include <cstdint>

#include "quant/formats/block_common.h"

namespace leanlm::quant {

struct BlockQ8_K {
  float d;                    // scale
  int8_t qs[kQK_K];           // quants
  int16_t bsums[kQK_K / 16];  // sum of each 16 consecutive quants
};
static_assert(sizeof(BlockQ8_K) == 292);

// n is a multiple of 256. Same bytes as ggml's quantize_row_q8_K_ref.
void QuantizeRowQ8_K(const float* x, void* y, int64_t n);
void DequantizeRowQ8_K(const void* x, float* y, int64_t n);

}  // namespace leanlm::quant
