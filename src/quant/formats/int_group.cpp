#include "quant/formats/int_group.h"

#include <cmath>

#include "base/fp16.h"
#include "base/status.h"
#include "quant/formats/block_common.h"

namespace leanlm::quant {
namespace {

// Round half to even, clamped to 0..maxq; NaN gives 0.
int RoundClamp(float v, int maxq) {
  if (!(v > 0)) return 0;
  if (v >= static_cast<float>(maxq)) return maxq;
  return static_cast<int>(std::nearbyint(v));
}

}  // namespace

template <int kBits, int kGroup>
void QuantizeRowIntGroup(const float* x, void* vy, int64_t n) {
  LEANLM_CHECK(n % kGroup == 0);
  constexpr int kMaxQ = (1 << kBits) - 1;
  auto* y = static_cast<BlockIntGroup<kBits, kGroup>*>(vy);
  int q[kGroup];
  for (int64_t i = 0; i < n / kGroup; ++i, x += kGroup) {
    float lo = 0, hi = 0;
    for (int j = 0; j < kGroup; ++j) {
      if (x[j] < lo) lo = x[j];
      if (x[j] > hi) hi = x[j];
    }
    if (lo == 0 && hi == 0) {
      lo = -1;
      hi = 1;
    }
    y[i].scale = Fp32ToFp16((hi - lo) / kMaxQ);
    y[i].pad = 0;
    const float scale = Fp16ToFp32(y[i].scale);
    if (!(scale > 0) || std::isinf(scale)) {  // fp16 under- or overflow: nothing representable
      y[i].zero = 0;
      for (int j = 0; j < kGroup; ++j) q[j] = 0;
    } else {
      const int zero = RoundClamp(-lo / scale, kMaxQ);
      y[i].zero = static_cast<uint8_t>(zero);
      for (int j = 0; j < kGroup; ++j) {
        // round(x / scale) + zero is an integer, so RoundClamp only clamps it.
        q[j] = RoundClamp(std::nearbyint(x[j] / scale) + static_cast<float>(zero), kMaxQ);
      }
    }
    if constexpr (kBits == 4) {
      for (int j = 0; j < kGroup / 2; ++j) y[i].qs[j] = static_cast<uint8_t>(q[2 * j] | (q[2 * j + 1] << 4));
    } else {
      for (int j = 0; j < kGroup; ++j) y[i].qs[j] = static_cast<uint8_t>(q[j]);
    }
  }
}

template <int kBits, int kGroup>
void DequantizeRowIntGroup(const void* vx, float* y, int64_t n) {
  LEANLM_CHECK(n % kGroup == 0);
  const auto* x = static_cast<const BlockIntGroup<kBits, kGroup>*>(vx);
  for (int64_t i = 0; i < n / kGroup; ++i, y += kGroup) {
    const float scale = Fp16ToFp32(x[i].scale);
    const int zero = x[i].zero;
    if constexpr (kBits == 4) {
      for (int j = 0; j < kGroup / 2; ++j) {
        y[2 * j] = static_cast<float>((x[i].qs[j] & 0xf) - zero) * scale;
        y[2 * j + 1] = static_cast<float>((x[i].qs[j] >> 4) - zero) * scale;
      }
    } else {
      for (int j = 0; j < kGroup; ++j) y[j] = static_cast<float>(x[i].qs[j] - zero) * scale;
    }
  }
}

template void QuantizeRowIntGroup<4, 32>(const float*, void*, int64_t);
template void QuantizeRowIntGroup<4, 64>(const float*, void*, int64_t);
template void QuantizeRowIntGroup<4, 128>(const float*, void*, int64_t);
template void QuantizeRowIntGroup<8, 32>(const float*, void*, int64_t);
template void QuantizeRowIntGroup<8, 64>(const float*, void*, int64_t);
template void QuantizeRowIntGroup<8, 128>(const float*, void*, int64_t);
template void DequantizeRowIntGroup<4, 32>(const void*, float*, int64_t);
template void DequantizeRowIntGroup<4, 64>(const void*, float*, int64_t);
template void DequantizeRowIntGroup<4, 128>(const void*, float*, int64_t);
template void DequantizeRowIntGroup<8, 32>(const void*, float*, int64_t);
template void DequantizeRowIntGroup<8, 64>(const void*, float*, int64_t);
template void DequantizeRowIntGroup<8, 128>(const void*, float*, int64_t);

}  // namespace leanlm::quant
