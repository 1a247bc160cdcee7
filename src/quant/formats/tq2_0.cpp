#include "quant/formats/tq2_0.h"

#include <cmath>

#include "base/fp16.h"
#include "base/status.h"

namespace leanlm::quant {

void QuantizeRowTQ2_0(const float* x, void* vy, int64_t n) {
  LEANLM_CHECK(n % kQK_K == 0);
  auto* y = static_cast<BlockTQ2_0*>(vy);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float amax = 0.0f;
    for (int j = 0; j < kQK_K; ++j) amax = MaxC(amax, std::fabs(x[j]));
    const float d = amax;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = Fp32ToFp16(d);
    for (int j = 0; j < kQK_K / 4; j += 32) {
      const float* xc = x + 4 * j;  // 128 elements per 32 bytes
      for (int m = 0; m < 32; ++m) {
        int q = 0;
        for (int k = 0; k < 4; ++k) q += ((RoundHalfAway(xc[m + 32 * k] * id) + 1) & 3) << (2 * k);
        y[i].qs[j + m] = static_cast<uint8_t>(q);
      }
    }
  }
}

void DequantizeRowTQ2_0(const void* vx, float* y, int64_t n) {
  LEANLM_CHECK(n % kQK_K == 0);
  const auto* x = static_cast<const BlockTQ2_0*>(vx);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = Fp16ToFp32(x[i].d);
    for (int j = 0; j < kQK_K / 4; j += 32) {
      for (int k = 0; k < 4; ++k) {
        for (int m = 0; m < 32; ++m) *y++ = static_cast<float>(((x[i].qs[j + m] >> (2 * k)) & 3) - 1) * d;
      }
    }
  }
}

}  // namespace leanlm::quant
