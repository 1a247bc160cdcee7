#include "quant/formats/q8_k.h"

#include <cmath>
#include <cstring>

#include "base/status.h"

namespace leanlm::quant {

void QuantizeRowQ8_K(const float* x, void* vy, int64_t n) {
  LEANLM_CHECK(n % kQK_K == 0);
  auto* y = static_cast<BlockQ8_K*>(vy);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float max = 0, amax = 0;
    for (int j = 0; j < kQK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0) {
      // ggml leaves bsums untouched here; zero them so the output is deterministic.
      std::memset(&y[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    // ggml maps the extreme to -127, not -128 (for its IQ2 dot products).
    const float iscale = -127.f / max;
    for (int j = 0; j < kQK_K; ++j) y[i].qs[j] = static_cast<int8_t>(MinC(127, NearestInt(iscale * x[j])));
    for (int j = 0; j < kQK_K / 16; ++j) {
      int sum = 0;
      for (int ii = 0; ii < 16; ++ii) sum += y[i].qs[16 * j + ii];
      y[i].bsums[j] = static_cast<int16_t>(sum);
    }
    y[i].d = 1 / iscale;
  }
}

void DequantizeRowQ8_K(const void* vx, float* y, int64_t n) {
  LEANLM_CHECK(n % kQK_K == 0);
  const auto* x = static_cast<const BlockQ8_K*>(vx);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    for (int j = 0; j < kQK_K; ++j) *y++ = x[i].d * x[i].qs[j];
  }
}

}  // namespace leanlm::quant
