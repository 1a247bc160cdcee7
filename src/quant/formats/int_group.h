// INT4 and INT8 with a scale and zero point per group of weights (leanlm
// types 202-207), the storage GPTQ and AWQ results map onto:
// x = (q - zero) * scale, q and zero unsigned in 0..2^bits - 1, scale fp16.
// The group size is part of the type (g32, g64, g128), so a row's layout
// needs nothing outside the tensor.
#pragma once

#include <cstdint>

namespace leanlm::quant {

// One group: fp16 scale, integer zero point, one padding byte (keeps the
// scale 2-byte aligned in every group), then the quants. INT4 packs element
// 2j in the low nibble of qs[j] and 2j+1 in the high nibble (the order of
// GPTQ's packed int32 words read as bytes).
template <int kBits, int kGroup>
struct BlockIntGroup {
  static_assert(kBits == 4 || kBits == 8);
  uint16_t scale;  // fp16
  uint8_t zero;    // 0..2^bits - 1
  uint8_t pad;     // 0
  uint8_t qs[kGroup * kBits / 8];
};
static_assert(sizeof(BlockIntGroup<4, 32>) == 20);
static_assert(sizeof(BlockIntGroup<4, 64>) == 36);
static_assert(sizeof(BlockIntGroup<4, 128>) == 68);
static_assert(sizeof(BlockIntGroup<8, 32>) == 36);
static_assert(sizeof(BlockIntGroup<8, 64>) == 68);
static_assert(sizeof(BlockIntGroup<8, 128>) == 132);

// Round-to-nearest asymmetric quantization as GPTQ's Quantizer does it
// (sym=False): the range [min(x, 0), max(x, 0)] (or [-1, 1] when both are 0)
// over 2^bits - 1 steps gives the scale, stored as fp16; then, with the
// stored scale, zero = round(-lo / scale) and q = clamp(round(x / scale) +
// zero). Rounding is to nearest even (torch.round). n is a multiple of kGroup.
template <int kBits, int kGroup>
void QuantizeRowIntGroup(const float* x, void* y, int64_t n);
template <int kBits, int kGroup>
void DequantizeRowIntGroup(const void* x, float* y, int64_t n);

}  // namespace leanlm::quant
