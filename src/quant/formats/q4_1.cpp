#include "quant/formats/q4_1.h"

#include <cfloat>

#include "base/fp16.h"
#include "base/status.h"
#include "quant/formats/block_common.h"

namespace leanlm::quant {

void QuantizeRowQ4_1(const float* x, void* vy, int64_t n) {
  LEANLM_CHECK(n % kQK4_1 == 0);
  auto* y = static_cast<BlockQ4_1*>(vy);
  for (int64_t i = 0; i < n / kQK4_1; ++i, x += kQK4_1) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < kQK4_1; ++j) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 15;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = Fp32ToFp16(d);
    y[i].m = Fp32ToFp16(min);
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      // The quants use the unrounded min and scale, as ggml does.
      const auto q0 = static_cast<uint8_t>(MinC(15, static_cast<int8_t>(TruncToInt((x[j] - min) * id + 0.5f))));
      const auto q1 =
          static_cast<uint8_t>(MinC(15, static_cast<int8_t>(TruncToInt((x[j + kQK4_1 / 2] - min) * id + 0.5f))));
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void DequantizeRowQ4_1(const void* vx, float* y, int64_t n) {
  LEANLM_CHECK(n % kQK4_1 == 0);
  const auto* x = static_cast<const BlockQ4_1*>(vx);
  for (int64_t i = 0; i < n / kQK4_1; ++i, y += kQK4_1) {
    const float d = Fp16ToFp32(x[i].d);
    const float m = Fp16ToFp32(x[i].m);
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      y[j] = (x[i].qs[j] & 0x0f) * d + m;
      y[j + kQK4_1 / 2] = (x[i].qs[j] >> 4) * d + m;
    }
  }
}

}  // namespace leanlm::quant
