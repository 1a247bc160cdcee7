#include "quant/formats/q6_k.h"

#include <cmath>
#include <cstring>

#include "base/fp16.h"
#include "base/status.h"
#include "quant/formats/kquant_common.h"

namespace leanlm::quant {

// Layout per half of 128 elements (64 ql bytes, 32 qh bytes): for l in 0..31,
// elements l, l+32, l+64, l+96 have low nibbles in ql[l], ql[l+32], ql[l] >> 4,
// ql[l+32] >> 4 and their two high bits in qh[l] bits 0-1, 2-3, 4-5, 6-7.

void QuantizeRowQ6_K(const float* x, void* vy, int64_t n) {
  LEANLM_CHECK(n % kQK_K == 0);
  auto* y = static_cast<BlockQ6_K*>(vy);
  int8_t levels[kQK_K];
  float scales[kQK_K / 16];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < kQK_K / 16; ++ib) {
      scales[ib] = MakeQxQuants(16, 32, x + 16 * ib, levels + 16 * ib);
      const float abs_scale = std::fabs(scales[ib]);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scales[ib];
      }
    }
    if (max_abs_scale < 1e-15f) {  // ggml's GROUP_MAX_EPS: the whole block is zero
      std::memset(&y[i], 0, sizeof(BlockQ6_K));
      continue;
    }
    const float iscale = -128.f / max_scale;
    y[i].d = Fp32ToFp16(1 / iscale);
    for (int ib = 0; ib < kQK_K / 16; ++ib) {
      y[i].scales[ib] = static_cast<int8_t>(MinC(127, NearestInt(iscale * scales[ib])));
    }
    // Requantize against the rounded scales; groups with a zero scale keep the search's quants.
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float d = Fp16ToFp32(y[i].d) * y[i].scales[j];
      if (d == 0) continue;
      for (int ii = 0; ii < 16; ++ii) {
        levels[16 * j + ii] = static_cast<int8_t>(MaxC(-32, MinC(31, NearestInt(x[16 * j + ii] / d))) + 32);
      }
    }
    uint8_t* ql = y[i].ql;
    uint8_t* qh = y[i].qh;
    for (int j = 0; j < kQK_K; j += 128, ql += 64, qh += 32) {
      for (int l = 0; l < 32; ++l) {
        const int q1 = levels[j + l], q2 = levels[j + l + 32], q3 = levels[j + l + 64], q4 = levels[j + l + 96];
        ql[l] = static_cast<uint8_t>((q1 & 0xf) | ((q3 & 0xf) << 4));
        ql[l + 32] = static_cast<uint8_t>((q2 & 0xf) | ((q4 & 0xf) << 4));
        qh[l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
      }
    }
  }
}

void DequantizeRowQ6_K(const void* vx, float* y, int64_t n) {
  LEANLM_CHECK(n % kQK_K == 0);
  const auto* x = static_cast<const BlockQ6_K*>(vx);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = Fp16ToFp32(x[i].d);
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* sc = x[i].scales;
    for (int j = 0; j < kQK_K; j += 128, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
    }
  }
}

}  // namespace leanlm::quant
