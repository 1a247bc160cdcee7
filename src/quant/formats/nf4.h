// NF4 (leanlm type 200): QLoRA's 4-bit NormalFloat, as bitsandbytes stores it
// without double quantization: blocks of 64 weights, an fp32 absmax per
// block, x = absmax * kNf4Values[q]. Two codes per byte, the even element in
// the high nibble (bitsandbytes' order).
#pragma once

#include <cstdint>

namespace leanlm::quant {

inline constexpr int kQKNf4 = 64;

// The NF4 code book (QLoRA paper, appendix E; bitsandbytes' nf4 table):
// quantiles of N(0, 1) normalized to [-1, 1], with an exact zero.
inline constexpr float kNf4Values[16] = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f,
};

struct BlockNf4 {
  float absmax;            // largest |x| of the block
  uint8_t qs[kQKNf4 / 2];  // element 2j in the high nibble of qs[j], 2j+1 in the low nibble
};
static_assert(sizeof(BlockNf4) == 36);

// The code whose value is nearest to x (already divided by absmax), with
// bitsandbytes' decision thresholds (ties go to the lower code; NaN to code 0).
uint8_t Nf4Code(float x);

// n is a multiple of kQKNf4. The same codes as bitsandbytes' CUDA
// quantize_4bit(quant_type="nf4", blocksize=64): x * (1 / absmax) rounded to
// the nearest code.
void QuantizeRowNf4(const float* x, void* y, int64_t n);
void DequantizeRowNf4(const void* x, float* y, int64_t n);

}  // namespace leanlm::quant
