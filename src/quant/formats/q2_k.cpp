#include "quant/formats/q2_k.h"

#include <cmath>

#include "base/fp16.h"
#include "base/status.h"
#include "quant/formats/block_common.h"
#include "quant/formats/kquant_common.h"

namespace leanlm::quant {

// Quant layout: in each half of 128 elements, byte l (0..31) of that half's 32
// bytes holds elements l, l+32, l+64, l+96 in bits 0-1, 2-3, 4-5, 6-7.

void QuantizeRowQ2_K(const float* x, void* vy, int64_t n) {
  LEANLM_CHECK(n % kQK_K == 0);
  auto* y = static_cast<BlockQ2_K*>(vy);
  uint8_t levels[kQK_K];
  uint8_t levels_aux[16];
  float weights[16];
  float mins[kQK_K / 16];
  float scales[kQK_K / 16];
  constexpr float kQ4Scale = 15.f;
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float max_scale = 0, max_min = 0;  // scales are positive since the min is subtracted
    for (int j = 0; j < kQK_K / 16; ++j) {
      for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
      scales[j] =
          MakeQkx2Quants(16, 3, x + 16 * j, weights, levels + 16 * j, &mins[j], levels_aux, -0.5f, 0.1f, 15, true);
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    if (max_scale > 0) {
      const float iscale = kQ4Scale / max_scale;
      for (int j = 0; j < kQK_K / 16; ++j) y[i].scales[j] = static_cast<uint8_t>(NearestInt(iscale * scales[j]));
      y[i].d = Fp32ToFp16(max_scale / kQ4Scale);
    } else {
      for (int j = 0; j < kQK_K / 16; ++j) y[i].scales[j] = 0;
      y[i].d = Fp32ToFp16(0.f);
    }
    if (max_min > 0) {
      const float iscale = kQ4Scale / max_min;
      for (int j = 0; j < kQK_K / 16; ++j) {
        y[i].scales[j] = static_cast<uint8_t>(y[i].scales[j] | (NearestInt(iscale * mins[j]) << 4));
      }
      y[i].dmin = Fp32ToFp16(max_min / kQ4Scale);
    } else {
      y[i].dmin = Fp32ToFp16(0.f);
    }
    // Requantize against the rounded scales; groups with a zero scale keep the search's quants.
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float d = Fp16ToFp32(y[i].d) * (y[i].scales[j] & 0xf);
      if (d == 0) continue;
      const float dm = Fp16ToFp32(y[i].dmin) * (y[i].scales[j] >> 4);
      for (int ii = 0; ii < 16; ++ii) {
        levels[16 * j + ii] = static_cast<uint8_t>(MaxC(0, MinC(3, NearestInt((x[16 * j + ii] + dm) / d))));
      }
    }
    for (int j = 0; j < kQK_K; j += 128) {
      for (int l = 0; l < 32; ++l) {
        y[i].qs[j / 4 + l] = static_cast<uint8_t>(levels[j + l] | (levels[j + l + 32] << 2) |
                                                  (levels[j + l + 64] << 4) | (levels[j + l + 96] << 6));
      }
    }
  }
}

void DequantizeRowQ2_K(const void* vx, float* y, int64_t n) {
  LEANLM_CHECK(n % kQK_K == 0);
  const auto* x = static_cast<const BlockQ2_K*>(vx);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = Fp16ToFp32(x[i].d);
    const float min = Fp16ToFp32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    int is = 0;
    for (int half = 0; half < kQK_K; half += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int part = 0; part < 2; ++part) {  // two groups of 16 share each shift
          const uint8_t sc = x[i].scales[is++];
          const float dl = d * (sc & 0xf);
          const float ml = min * (sc >> 4);
          for (int l = 0; l < 16; ++l) *y++ = dl * ((q[16 * part + l] >> shift) & 3) - ml;
        }
      }
    }
  }
}

}  // namespace leanlm::quant
