#include "quant/double_quant.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>

#include "quant/formats/block_common.h"

namespace leanlm::quant {
namespace {

// torch.linspace for float32 on the CPU: the first half counts up from start,
// the second half down from end.
std::vector<float> Linspace(float start, float end, int steps) {
  std::vector<float> v(steps);
  const float step = (end - start) / static_cast<float>(steps - 1);
  for (int i = 0; i < steps; ++i) {
    v[i] = i < steps / 2 ? start + step * static_cast<float>(i) : end - step * static_cast<float>(steps - i - 1);
  }
  return v;
}

// bitsandbytes' dQuantize<0>: a 7-step binary search over the sorted map,
// tracking the nearest entries visited below and above, then a comparison of
// x with the midpoints between the last pivot and those neighbours.
uint8_t NearestMapIndex(const std::array<float, 256>& map, float x) {
  int pivot = 127, upper_pivot = 255, lower_pivot = 0;
  float lower = -1.0f, upper = 1.0f;
  float val = map[pivot];
  for (int i = 64; i > 0; i >>= 1) {
    if (x > val) {
      lower_pivot = pivot;
      lower = val;
      pivot += i;
    } else {
      upper_pivot = pivot;
      upper = val;
      pivot -= i;
    }
    val = map[pivot];
  }
  if (upper_pivot == 255) upper = map[upper_pivot];
  if (lower_pivot == 0) lower = map[lower_pivot];
  if (x > val) return static_cast<uint8_t>(x > (upper + val) * 0.5f ? upper_pivot : pivot);
  return static_cast<uint8_t>(x < (lower + val) * 0.5f ? lower_pivot : pivot);
}

}  // namespace

std::array<float, 256> DynamicMap8() {
  std::vector<float> data;
  for (int e = 0; e < 7; ++e) {
    const std::vector<float> b = Linspace(0.1f, 1.0f, (1 << e) + 1);
    const auto scale = static_cast<float>(std::pow(10.0, e - 6));
    for (int k = 0; k + 1 < static_cast<int>(b.size()); ++k) data.push_back(scale * ((b[k] + b[k + 1]) / 2.0f));
    for (int k = 0; k + 1 < static_cast<int>(b.size()); ++k) data.push_back(-scale * ((b[k] + b[k + 1]) / 2.0f));
  }
  data.push_back(0.0f);
  data.push_back(1.0f);
  std::sort(data.begin(), data.end());
  std::array<float, 256> map{};
  std::copy(data.begin(), data.end(), map.begin());
  return map;
}

NestedAbsmax QuantizeNestedAbsmax(std::span<const float> absmax, const std::array<float, 256>& map) {
  NestedAbsmax out;
  double sum = 0;
  for (float a : absmax) sum += a;
  out.offset = absmax.empty() ? 0.0f : static_cast<float>(sum / static_cast<double>(absmax.size()));
  out.codes.resize(absmax.size());
  for (size_t b = 0; b < absmax.size(); b += kNestedBlock) {
    const size_t end = std::min(absmax.size(), b + kNestedBlock);
    float amax = -FLT_MAX;
    for (size_t i = b; i < end; ++i) amax = std::fmax(amax, std::fabs(absmax[i] - out.offset));
    out.absmax2.push_back(amax);
    const float inv = 1.0f / amax;
    for (size_t i = b; i < end; ++i) out.codes[i] = NearestMapIndex(map, (absmax[i] - out.offset) * inv);
  }
  return out;
}

Status DequantizeNestedAbsmax(const NestedAbsmax& nested, std::span<const float> map, std::span<float> absmax) {
  if (map.size() != 256)
    return Status::Error("nested quant map has " + std::to_string(map.size()) + " entries, expected 256");
  if (nested.codes.size() != absmax.size()) {
    return Status::Error("nested absmax has " + std::to_string(nested.codes.size()) + " codes for " +
                         std::to_string(absmax.size()) + " blocks");
  }
  const size_t blocks = (nested.codes.size() + kNestedBlock - 1) / kNestedBlock;
  if (nested.absmax2.size() != blocks) {
    return Status::Error("nested absmax has " + std::to_string(nested.absmax2.size()) + " block scales, expected " +
                         std::to_string(blocks));
  }
  for (size_t i = 0; i < absmax.size(); ++i) {
    absmax[i] = map[nested.codes[i]] * nested.absmax2[i / kNestedBlock] + nested.offset;
  }
  return Status::Ok();
}

}  // namespace leanlm::quant
