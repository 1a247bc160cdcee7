#include "quant/formats/q5_1.h"

#include <cfloat>
#include <cstring>

#include "base/fp16.h"
#include "base/status.h"
#include "quant/formats/block_common.h"

namespace leanlm::quant {

void QuantizeRowQ5_1(const float* x, void* vy, int64_t n) {
  LEANLM_CHECK(n % kQK5_1 == 0);
  auto* y = static_cast<BlockQ5_1*>(vy);
  constexpr int kHalf = kQK5_1 / 2;
  for (int64_t i = 0; i < n / kQK5_1; ++i, x += kQK5_1) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < kQK5_1; ++j) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 31;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = Fp32ToFp16(d);
    y[i].m = Fp32ToFp16(min);
    uint32_t qh = 0;
    for (int j = 0; j < kHalf; ++j) {
      // No clamp to 31 here, unlike Q4_1: ggml relies on (max - min) * id <= 31.
      const auto q0 = static_cast<uint8_t>(TruncToInt((x[j] - min) * id + 0.5f));
      const auto q1 = static_cast<uint8_t>(TruncToInt((x[j + kHalf] - min) * id + 0.5f));
      y[i].qs[j] = static_cast<uint8_t>((q0 & 0x0f) | ((q1 & 0x0f) << 4));
      qh |= ((q0 & 0x10u) >> 4) << j;
      qh |= ((q1 & 0x10u) >> 4) << (j + kHalf);
    }
    const uint8_t qh_bytes[4] = {static_cast<uint8_t>(qh), static_cast<uint8_t>(qh >> 8),
                                 static_cast<uint8_t>(qh >> 16), static_cast<uint8_t>(qh >> 24)};
    std::memcpy(y[i].qh, qh_bytes, 4);
  }
}

void DequantizeRowQ5_1(const void* vx, float* y, int64_t n) {
  LEANLM_CHECK(n % kQK5_1 == 0);
  const auto* x = static_cast<const BlockQ5_1*>(vx);
  constexpr int kHalf = kQK5_1 / 2;
  for (int64_t i = 0; i < n / kQK5_1; ++i, y += kQK5_1) {
    const float d = Fp16ToFp32(x[i].d);
    const float m = Fp16ToFp32(x[i].m);
    const uint32_t qh = x[i].qh[0] | (x[i].qh[1] << 8) | (x[i].qh[2] << 16) | (static_cast<uint32_t>(x[i].qh[3]) << 24);
    for (int j = 0; j < kHalf; ++j) {
      const int q0 = (x[i].qs[j] & 0x0f) | (((qh >> j) & 1) << 4);
      const int q1 = (x[i].qs[j] >> 4) | (((qh >> (j + kHalf)) & 1) << 4);
      y[j] = q0 * d + m;
      y[j + kHalf] = q1 * d + m;
    }
  }
}

}  // namespace leanlm::quant
