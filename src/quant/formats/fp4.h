// FP4 (leanlm type 201): bitsandbytes' 4-bit float (1 sign, 2 exponent,
// 1 mantissa bit, scaled so the largest magnitude is 1), in the same block
// layout as NF4: 64 weights, fp32 absmax, x = absmax * kFp4Values[q].
#pragma once

#include <cstdint>

namespace leanlm::quant {

inline constexpr int kQKFp4 = 64;

// bitsandbytes' fp4 table {0, 0.0625, 8, 12, 4, 6, 2, 3} / 12, and its
// negatives in codes 8..15 (bit 3 is the sign).
inline constexpr float kFp4Values[16] = {
    0.0f,  0.005208333333f,  0.66666667f,  1.0f,  0.33333333f,  0.5f,  0.16666667f,  0.25f,
    -0.0f, -0.005208333333f, -0.66666667f, -1.0f, -0.33333333f, -0.5f, -0.16666667f, -0.25f,
};

struct BlockFp4 {
  float absmax;            // largest |x| of the block
  uint8_t qs[kQKFp4 / 2];  // element 2j in the high nibble of qs[j], 2j+1 in the low nibble
};
static_assert(sizeof(BlockFp4) == 36);

// Nearest code to x (already divided by absmax) with bitsandbytes' thresholds.
uint8_t Fp4Code(float x);

// n is a multiple of kQKFp4. The same codes as bitsandbytes' CUDA
// quantize_4bit(quant_type="fp4", blocksize=64).
void QuantizeRowFp4(const float* x, void* y, int64_t n);
void DequantizeRowFp4(const void* x, float* y, int64_t n);

}  // namespace leanlm::quant
