#include "quant/formats/iq4_nl.h"

#include <cmath>

#include "base/fp16.h"
#include "base/status.h"
#include "quant/formats/block_common.h"

namespace leanlm::quant {
namespace {

constexpr int kSearchSteps = 7;  // ggml's ntry for quantize_iq4_nl

// Index of the grid value nearest to x (ties go up), as ggml's best_index_int8.
int NearestGridIndex(float x) {
  const int8_t* val = kIq4nlValues;
  if (x <= val[0]) return 0;
  if (x >= val[15]) return 15;
  int ml = 0, mu = 15;
  while (mu - ml > 1) {
    const int mav = (ml + mu) / 2;
    if (x < val[mav]) {
      mu = mav;
    } else {
      ml = mav;
    }
  }
  return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
}

// Weighted sums sum(w*q*x) and sum(w*q*q) for quants chosen at inverse scale id.
void GridSums(const float* x, const float* weight, float id, float* sumqx, float* sumq2) {
  *sumqx = *sumq2 = 0;
  for (int j = 0; j < kQK4_NL; ++j) {
    const float q = kIq4nlValues[NearestGridIndex(id * x[j])];
    const float w = weight[j];
    *sumqx += w * q * x[j];
    *sumq2 += w * q * q;
  }
}

void QuantizeBlock(const float* x, BlockIQ4_NL* y) {
  float weight[kQK4_NL];
  for (int j = 0; j < kQK4_NL; ++j) weight[j] = x[j] * x[j];
  float amax = 0, max = 0;
  for (int j = 0; j < kQK4_NL; ++j) {
    const float ax = std::fabs(x[j]);
    if (ax > amax) {
      amax = ax;
      max = x[j];
    }
  }
  float d = 0;
  if (amax >= 1e-15f) {  // ggml's GROUP_MAX_EPS; below it the block is zero
    d = -max / kIq4nlValues[0];
    float sumqx, sumq2;
    GridSums(x, weight, 1 / d, &sumqx, &sumq2);
    d = sumqx / sumq2;
    float best = d * sumqx;
    for (int itry = -kSearchSteps; itry <= kSearchSteps; ++itry) {
      GridSums(x, weight, (itry + kIq4nlValues[0]) / max, &sumqx, &sumq2);
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
  }
  y->d = Fp32ToFp16(d);
  // Final indices use the unrounded scale, as ggml does.
  const float id = d != 0 ? 1 / d : 0;
  for (int j = 0; j < kQK4_NL / 2; ++j) {
    const int l0 = NearestGridIndex(id * x[j]);
    const int l1 = NearestGridIndex(id * x[j + kQK4_NL / 2]);
    y->qs[j] = static_cast<uint8_t>(l0 | (l1 << 4));
  }
}

}  // namespace

void QuantizeRowIQ4_NL(const float* x, void* vy, int64_t n) {
  LEANLM_CHECK(n % kQK4_NL == 0);
  auto* y = static_cast<BlockIQ4_NL*>(vy);
  for (int64_t i = 0; i < n / kQK4_NL; ++i) QuantizeBlock(x + i * kQK4_NL, &y[i]);
}

void DequantizeRowIQ4_NL(const void* vx, float* y, int64_t n) {
  LEANLM_CHECK(n % kQK4_NL == 0);
  const auto* x = static_cast<const BlockIQ4_NL*>(vx);
  for (int64_t i = 0; i < n / kQK4_NL; ++i, y += kQK4_NL) {
    const float d = Fp16ToFp32(x[i].d);
    for (int j = 0; j < kQK4_NL / 2; ++j) {
      y[j] = d * kIq4nlValues[x[i].qs[j] & 0xf];
      y[j + kQK4_NL / 2] = d * kIq4nlValues[x[i].qs[j] >> 4];
    }
  }
}

}  // namespace leanlm::quant
