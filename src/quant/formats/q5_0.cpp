#include "quant/formats/q5_0.h"

#include <cmath>
#include <cstring>

#include "base/fp16.h"
#include "base/status.h"
#include "quant/formats/block_common.h"

namespace leanlm::quant {

void QuantizeRowQ5_0(const float* x, void* vy, int64_t n) {
  LEANLM_CHECK(n % kQK5_0 == 0);
  auto* y = static_cast<BlockQ5_0*>(vy);
  constexpr int kHalf = kQK5_0 / 2;
  for (int64_t i = 0; i < n / kQK5_0; ++i, x += kQK5_0) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK5_0; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -16;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = Fp32ToFp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < kHalf; ++j) {
      const auto q0 = static_cast<uint8_t>(MinC(31, static_cast<int8_t>(TruncToInt(x[j] * id + 16.5f))));
      const auto q1 = static_cast<uint8_t>(MinC(31, static_cast<int8_t>(TruncToInt(x[j + kHalf] * id + 16.5f))));
      y[i].qs[j] = static_cast<uint8_t>((q0 & 0x0f) | ((q1 & 0x0f) << 4));
      qh |= ((q0 & 0x10u) >> 4) << j;
      qh |= ((q1 & 0x10u) >> 4) << (j + kHalf);
    }
    const uint8_t qh_bytes[4] = {static_cast<uint8_t>(qh), static_cast<uint8_t>(qh >> 8),
                                 static_cast<uint8_t>(qh >> 16), static_cast<uint8_t>(qh >> 24)};
    std::memcpy(y[i].qh, qh_bytes, 4);
  }
}

void DequantizeRowQ5_0(const void* vx, float* y, int64_t n) {
  LEANLM_CHECK(n % kQK5_0 == 0);
  const auto* x = static_cast<const BlockQ5_0*>(vx);
  constexpr int kHalf = kQK5_0 / 2;
  for (int64_t i = 0; i < n / kQK5_0; ++i, y += kQK5_0) {
    const float d = Fp16ToFp32(x[i].d);
    const uint32_t qh = x[i].qh[0] | (x[i].qh[1] << 8) | (x[i].qh[2] << 16) | (static_cast<uint32_t>(x[i].qh[3]) << 24);
    for (int j = 0; j < kHalf; ++j) {
      const int q0 = (x[i].qs[j] & 0x0f) | (((qh >> j) & 1) << 4);
      const int q1 = (x[i].qs[j] >> 4) | (((qh >> (j + kHalf)) & 1) << 4);
      y[j] = (q0 - 16) * d;
      y[j + kHalf] = (q1 - 16) * d;
    }
  }
}

}  // namespace leanlm::quant
