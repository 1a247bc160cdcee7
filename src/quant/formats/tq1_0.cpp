#include "quant/formats/tq1_0.h"

#include <cmath>

#include "base/fp16.h"
#include "base/status.h"

namespace leanlm::quant {
namespace {

// A byte holds k trits as the base-3 number t0 t1 ... (t0 most significant,
// padded to five trits) scaled into 0..255 by ceil(v * 256 / 243), so that
// trit i is recovered as ((uint8_t)(byte * 3^i) * 3) >> 8.
uint8_t PackTrits(const float* x, int stride, int count, float id) {
  uint8_t q = 0;
  for (int n = 0; n < count; ++n) q = static_cast<uint8_t>(q * 3 + RoundHalfAway(x[n * stride] * id) + 1);
  for (int n = count; n < 5; ++n) q = static_cast<uint8_t>(q * 3);
  return static_cast<uint8_t>((q * 256 + 242) / 243);
}

float UnpackTrit(uint8_t byte, int i, float d) {
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const auto q = static_cast<uint8_t>(byte * kPow3[i]);
  return static_cast<float>(((q * 3) >> 8) - 1) * d;
}

}  // namespace

// Element order: qs[0..31] hold elements 0..159 (element 32*n + m is trit n of
// qs[m]); qs[32..47] hold 160..239 (element 160 + 16*n + m is trit n of
// qs[32+m]); qh[0..3] hold 240..255 (element 240 + 4*n + j is trit n of qh[j]).
void QuantizeRowTQ1_0(const float* x, void* vy, int64_t n) {
  LEANLM_CHECK(n % kQK_K == 0);
  auto* y = static_cast<BlockTQ1_0*>(vy);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float amax = 0.0f;
    for (int j = 0; j < kQK_K; ++j) amax = MaxC(amax, std::fabs(x[j]));
    const float d = amax;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = Fp32ToFp16(d);
    for (int m = 0; m < 32; ++m) y[i].qs[m] = PackTrits(x + m, 32, 5, id);
    for (int m = 0; m < 16; ++m) y[i].qs[32 + m] = PackTrits(x + 160 + m, 16, 5, id);
    for (int j = 0; j < 4; ++j) y[i].qh[j] = PackTrits(x + 240 + j, 4, 4, id);
  }
}

void DequantizeRowTQ1_0(const void* vx, float* y, int64_t n) {
  LEANLM_CHECK(n % kQK_K == 0);
  const auto* x = static_cast<const BlockTQ1_0*>(vx);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = Fp16ToFp32(x[i].d);
    for (int t = 0; t < 5; ++t) {
      for (int m = 0; m < 32; ++m) *y++ = UnpackTrit(x[i].qs[m], t, d);
    }
    for (int t = 0; t < 5; ++t) {
      for (int m = 0; m < 16; ++m) *y++ = UnpackTrit(x[i].qs[32 + m], t, d);
    }
    for (int t = 0; t < 4; ++t) {
      for (int j = 0; j < 4; ++j) *y++ = UnpackTrit(x[i].qh[j], t, d);
    }
  }
}

}  // namespace leanlm::quant
