#include "quant/formats/q4_0.h"

#include <cmath>

#include "base/fp16.h"
#include "base/status.h"
#include "quant/formats/block_common.h"

namespace leanlm::quant {

void QuantizeRowQ4_0(const float* x, void* vy, int64_t n) {
  LEANLM_CHECK(n % kQK4_0 == 0);
  auto* y = static_cast<BlockQ4_0*>(vy);
  for (int64_t i = 0; i < n / kQK4_0; ++i, x += kQK4_0) {
    // The signed value of largest magnitude maps to -8, so the scale carries its sign.
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK4_0; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = Fp32ToFp16(d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      const auto q0 = static_cast<uint8_t>(MinC(15, static_cast<int8_t>(TruncToInt(x[j] * id + 8.5f))));
      const auto q1 = static_cast<uint8_t>(MinC(15, static_cast<int8_t>(TruncToInt(x[j + kQK4_0 / 2] * id + 8.5f))));
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void DequantizeRowQ4_0(const void* vx, float* y, int64_t n) {
  LEANLM_CHECK(n % kQK4_0 == 0);
  const auto* x = static_cast<const BlockQ4_0*>(vx);
  for (int64_t i = 0; i < n / kQK4_0; ++i, y += kQK4_0) {
    const float d = Fp16ToFp32(x[i].d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      y[j] = ((x[i].qs[j] & 0x0f) - 8) * d;
      y[j + kQK4_0 / 2] = ((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

}  // namespace leanlm::quant
