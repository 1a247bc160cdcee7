#include "quant/formats/q8_0.h"

#include <cmath>

#include "base/fp16.h"
#include "base/status.h"
#include "quant/formats/block_common.h"

namespace leanlm::quant {

void QuantizeRowQ8_0(const float* x, void* vy, int64_t n) {
  LEANLM_CHECK(n % kQK8_0 == 0);
  auto* y = static_cast<BlockQ8_0*>(vy);
  for (int64_t i = 0; i < n / kQK8_0; ++i, x += kQK8_0) {
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = MaxC(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = Fp32ToFp16(d);
    for (int j = 0; j < kQK8_0; ++j) y[i].qs[j] = static_cast<int8_t>(RoundHalfAway(x[j] * id));
  }
}

void DequantizeRowQ8_0(const void* vx, float* y, int64_t n) {
  LEANLM_CHECK(n % kQK8_0 == 0);
  const auto* x = static_cast<const BlockQ8_0*>(vx);
  for (int64_t i = 0; i < n / kQK8_0; ++i, y += kQK8_0) {
    const float d = Fp16ToFp32(x[i].d);
    for (int j = 0; j < kQK8_0; ++j) y[j] = x[i].qs[j] * d;
  }
}

}  // namespace leanlm::quant
