// QLoRA's double quantization of the NF4/FP4 block constants, as
// bitsandbytes stores it (quantize_4bit with compress_statistics=True): the
// per-64 fp32 absmax values of a whole tensor, minus their mean, quantized to
// 8-bit codes of bitsandbytes' dynamic map in blocks of 256, each block with
// an fp32 absmax of its own. leanlm keeps NF4 rows with fp32 absmax
// (BlockNf4); this converts to and from the compressed form for import and
// export. The 256 absmax values of a nested block span rows, so this works on
// a tensor's whole absmax array, not row by row.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"

namespace leanlm::quant {

inline constexpr int kNestedBlock = 256;

struct NestedAbsmax {
  float offset = 0;            // mean of the absmax values (bitsandbytes' nested_offset)
  std::vector<uint8_t> codes;  // one per absmax value: index into the 8-bit map
  std::vector<float> absmax2;  // one per kNestedBlock codes (bitsandbytes' nested_absmax)
};

// bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7,
// total_bits=8): for e = 0..6, the midpoints of 2^e + 1 evenly spaced points
// in [0.1, 1] scaled by 10^(e-6), both signs, plus 0 and 1; sorted, float32.
std::array<float, 256> DynamicMap8();

// Quantizes absmax (one value per NF4 block of a tensor) as bitsandbytes'
// CUDA blockwise 8-bit quantizer does: per 256 values, v * (1 / max|v|)
// rounded to the nearest map entry by its binary search (dQuantize).
NestedAbsmax QuantizeNestedAbsmax(std::span<const float> absmax, const std::array<float, 256>& map);

// absmax[i] = map[codes[i]] * absmax2[i / 256] + offset, as bitsandbytes'
// dequantize_4bit. map is whatever the checkpoint stores (nested_quant_map).
// Errors when the sizes disagree.
Status DequantizeNestedAbsmax(const NestedAbsmax& nested, std::span<const float> map, std::span<float> absmax);

}  // namespace leanlm::quant
