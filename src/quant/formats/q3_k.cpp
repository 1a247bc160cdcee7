#include "quant/formats/q3_k.h"

#include <cmath>
#include <cstring>

#include "base/fp16.h"
#include "base/status.h"
#include "quant/formats/block_common.h"
#include "quant/formats/kquant_common.h"

namespace leanlm::quant {
namespace {

// The signed 6-bit scale of group j (-32..31).
int GroupScale(const uint8_t* scales, int j) {
  const int low = j < 8 ? scales[j] & 0xf : scales[j - 8] >> 4;
  const int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (low | (high << 4)) - 32;
}

}  // namespace

void QuantizeRowQ3_K(const float* x, void* vy, int64_t n) {
  LEANLM_CHECK(n % kQK_K == 0);
  auto* y = static_cast<BlockQ3_K*>(vy);
  int8_t levels[kQK_K];
  float scales[kQK_K / 16];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float max_scale = 0, amax = 0;
    for (int j = 0; j < kQK_K / 16; ++j) {
      scales[j] = MakeQ3Quants(16, 4, x + 16 * j, levels + 16 * j);
      const float scale = std::fabs(scales[j]);
      if (scale > amax) {
        amax = scale;
        max_scale = scales[j];
      }
    }
    std::memset(y[i].scales, 0, sizeof(y[i].scales));
    if (max_scale != 0) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < kQK_K / 16; ++j) {
        // ggml keeps the rounded scale in an int8 before clamping.
        int8_t l = static_cast<int8_t>(NearestInt(iscale * scales[j]));
        l = static_cast<int8_t>(MaxC(-32, MinC(31, l)) + 32);
        if (j < 8) {
          y[i].scales[j] = l & 0xf;
        } else {
          y[i].scales[j - 8] = static_cast<uint8_t>(y[i].scales[j - 8] | ((l & 0xf) << 4));
        }
        l = static_cast<int8_t>(l >> 4);
        y[i].scales[j % 4 + 8] = static_cast<uint8_t>(y[i].scales[j % 4 + 8] | (l << (2 * (j / 4))));
      }
      y[i].d = Fp32ToFp16(1 / iscale);
    } else {
      y[i].d = Fp32ToFp16(0.f);
    }
    // Requantize against the rounded scales; groups with a zero scale keep the search's quants.
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float d = Fp16ToFp32(y[i].d) * GroupScale(y[i].scales, j);
      if (d == 0) continue;
      for (int ii = 0; ii < 16; ++ii) {
        levels[16 * j + ii] = static_cast<int8_t>(MaxC(-4, MinC(3, NearestInt(x[16 * j + ii] / d))) + 4);
      }
    }
    std::memset(y[i].hmask, 0, sizeof(y[i].hmask));
    for (int j = 0; j < kQK_K; ++j) {
      if (levels[j] > 3) {
        y[i].hmask[j % 32] = static_cast<uint8_t>(y[i].hmask[j % 32] | (1 << (j / 32)));
        levels[j] = static_cast<int8_t>(levels[j] - 4);
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

void DequantizeRowQ3_K(const void* vx, float* y, int64_t n) {
  LEANLM_CHECK(n % kQK_K == 0);
  const auto* x = static_cast<const BlockQ3_K*>(vx);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d_all = Fp16ToFp32(x[i].d);
    const uint8_t* q = x[i].qs;
    const uint8_t* hm = x[i].hmask;
    uint8_t m = 1;
    int is = 0;
    for (int half = 0; half < kQK_K; half += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, m = static_cast<uint8_t>(m << 1)) {
        for (int part = 0; part < 2; ++part) {
          const float dl = d_all * GroupScale(x[i].scales, is++);
          for (int l = 0; l < 16; ++l) {
            const int k = 16 * part + l;
            *y++ = dl * (((q[k] >> shift) & 3) - ((hm[k] & m) ? 0 : 4));
          }
        }
      }
    }
  }
}

}  // namespace leanlm::quant
