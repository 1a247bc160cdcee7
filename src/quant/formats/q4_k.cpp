#include "quant/formats/q4_k.h"

#include "base/fp16.h"
#include "base/status.h"
#include "quant/formats/kquant_common.h"

namespace leanlm::quant {

void QuantizeRowQ4_K(const float* x, void* vy, int64_t n) {
  LEANLM_CHECK(n % kQK_K == 0);
  auto* y = static_cast<BlockQ4_K*>(vy);
  uint8_t levels[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    QuantizeSuperBlockK4(x, 15, -1.f, 20, levels, &y[i].d, &y[i].dmin, y[i].scales);
    uint8_t* q = y[i].qs;
    for (int j = 0; j < kQK_K; j += 64, q += 32) {
      for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(levels[j + l] | (levels[j + l + 32] << 4));
    }
  }
}

void DequantizeRowQ4_K(const void* vx, float* y, int64_t n) {
  LEANLM_CHECK(n % kQK_K == 0);
  const auto* x = static_cast<const BlockQ4_K*>(vx);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = Fp16ToFp32(x[i].d);
    const float min = Fp16ToFp32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    for (int j = 0, is = 0; j < kQK_K; j += 64, q += 32, is += 2) {
      uint8_t sc, m;
      GetScaleMinK4(is, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      GetScaleMinK4(is + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xf) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
    }
  }
}

}  // namespace leanlm::quant
