// NF4 and FP4: bitsandbytes' blockwise 4-bit formats (kQuantizeBlockwise and
// kDequantizeBlockwise in its csrc/kernels.cu).
#include <cfloat>
#include <cmath>

#include "base/status.h"
#include "quant/formats/block_common.h"
#include "quant/formats/fp4.h"
#include "quant/formats/nf4.h"

namespace leanlm::quant {
namespace {

// bitsandbytes' NF4 decision thresholds (midpoints of adjacent codes, as
// float constants in its kernel), ascending: the code is how many lie below x.
constexpr float kNf4Thresholds[15] = {
    -0.8480964004993439f,  -0.6106329262256622f,   -0.4599952697753906f, -0.33967943489551544f, -0.23460740596055984f,
    -0.13791173323988914f, -0.045525018125772476f, 0.03979014977812767f, 0.1202552504837513f,   0.2035212516784668f,
    0.2920137718319893f,   0.3893125355243683f,    0.5016634166240692f,  0.6427869200706482f,   0.8614784181118011f,
};

// FP4 magnitudes in ascending order are codes 0, 1, 6, 7, 4, 5, 2, 3; its
// thresholds separate them.
constexpr float kFp4Thresholds[7] = {0.00260417f, 0.0859375f, 0.20833333f, 0.29166667f,
                                     0.4166667f,  0.583333f,  0.8333333f};
constexpr uint8_t kFp4CodeByRank[8] = {0, 1, 6, 7, 4, 5, 2, 3};

// bitsandbytes' block scale: the largest magnitude (fmaxf skips NaN) and its
// reciprocal, which multiplies every element.
float AbsMax(const float* x, int n) {
  float amax = -FLT_MAX;
  for (int j = 0; j < n; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  return amax;
}

template <typename Block, int kBlock, uint8_t (*Code)(float)>
void QuantizeRow(const float* x, void* vy, int64_t n) {
  LEANLM_CHECK(n % kBlock == 0);
  auto* y = static_cast<Block*>(vy);
  for (int64_t i = 0; i < n / kBlock; ++i, x += kBlock) {
    const float amax = AbsMax(x, kBlock);
    const float inv = 1.0f / amax;  // an all-zero block gives 0 * inf = NaN: code 0, as in bitsandbytes
    y[i].absmax = amax;
    for (int j = 0; j < kBlock / 2; ++j) {
      y[i].qs[j] = static_cast<uint8_t>((Code(x[2 * j] * inv) << 4) | Code(x[2 * j + 1] * inv));
    }
  }
}

template <typename Block, int kBlock, const float* kValues>
void DequantizeRow(const void* vx, float* y, int64_t n) {
  LEANLM_CHECK(n % kBlock == 0);
  const auto* x = static_cast<const Block*>(vx);
  for (int64_t i = 0; i < n / kBlock; ++i, y += kBlock) {
    const float amax = x[i].absmax;
    for (int j = 0; j < kBlock / 2; ++j) {
      y[2 * j] = kValues[x[i].qs[j] >> 4] * amax;
      y[2 * j + 1] = kValues[x[i].qs[j] & 0xf] * amax;
    }
  }
}

}  // namespace

uint8_t Nf4Code(float x) {
  uint8_t code = 0;
  for (float t : kNf4Thresholds) code = static_cast<uint8_t>(code + (x > t ? 1 : 0));
  return code;
}

uint8_t Fp4Code(float x) {
  const uint8_t sign = x < 0 ? 8 : 0;
  const float ax = std::fabs(x);
  int rank = 0;
  for (float t : kFp4Thresholds) rank += ax > t ? 1 : 0;
  return static_cast<uint8_t>(kFp4CodeByRank[rank] + sign);
}

void QuantizeRowNf4(const float* x, void* y, int64_t n) { QuantizeRow<BlockNf4, kQKNf4, Nf4Code>(x, y, n); }
void DequantizeRowNf4(const void* x, float* y, int64_t n) { DequantizeRow<BlockNf4, kQKNf4, kNf4Values>(x, y, n); }
void QuantizeRowFp4(const float* x, void* y, int64_t n) { QuantizeRow<BlockFp4, kQKFp4, Fp4Code>(x, y, n); }
void DequantizeRowFp4(const void* x, float* y, int64_t n) { DequantizeRow<BlockFp4, kQKFp4, kFp4Values>(x, y, n); }

}  // namespace leanlm::quant
