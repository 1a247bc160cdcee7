// leanlm's own formats (ids 200+): NF4 and FP4 against the QLoRA /
// bitsandbytes definitions, INT4/INT8 with per-group scale and zero point.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

#include "base/dtype.h"
#include "base/fp16.h"
#include "quant/formats/fp4.h"
#include "quant/formats/int_group.h"
#include "quant/formats/nf4.h"
#include "quant/registry.h"

namespace leanlm {
namespace {

size_t Bytes(DType t, int64_t n) {
  Result<size_t> r = RowBytes(t, n);
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : 0;
}

// Inverse of the standard normal CDF by Newton's method on erfc (double).
double NormalQuantile(double p) {
  double x = 0;
  for (int it = 0; it < 100; ++it) {
    const double cdf = 0.5 * std::erfc(-x / std::sqrt(2.0));
    const double pdf = std::exp(-0.5 * x * x) / std::sqrt(2.0 * std::numbers::pi);
    const double step = (cdf - p) / pdf;
    x -= step;
    if (std::fabs(step) < 1e-15) break;
  }
  return x;
}

// QLoRA's construction of NF4 (bitsandbytes' create_normal_map, offset
// 0.9677083): 8 positive quantiles from linspace(offset, 0.5, 9), 7 negative
// ones from linspace(offset, 0.5, 8), an exact zero, normalized by the largest.
// The linspace points are float32, as torch makes them.
TEST(Nf4, CodeBookFollowsQloraConstruction) {
  const double offset = 0.9677083;
  std::vector<double> v;
  for (int i = 0; i < 8; ++i) v.push_back(NormalQuantile(static_cast<float>(offset + (0.5 - offset) * i / 8)));
  for (int i = 0; i < 7; ++i) v.push_back(-NormalQuantile(static_cast<float>(offset + (0.5 - offset) * i / 7)));
  v.push_back(0.0);
  std::sort(v.begin(), v.end());
  const double max = v.back();
  for (int k = 0; k < 16; ++k) EXPECT_NEAR(quant::kNf4Values[k], v[k] / max, 2e-6) << k;
  EXPECT_EQ(quant::kNf4Values[0], -1.0f);
  EXPECT_EQ(quant::kNf4Values[7], 0.0f);
  EXPECT_EQ(quant::kNf4Values[15], 1.0f);
}

// bitsandbytes' fp4: sign bit 3, then {0, 0.0625, 8, 12, 4, 6, 2, 3} / 12.
TEST(Fp4, CodeBookIsBitsandbytesFp4) {
  const double raw[8] = {0, 0.0625, 8, 12, 4, 6, 2, 3};
  for (int k = 0; k < 8; ++k) {
    EXPECT_NEAR(quant::kFp4Values[k], raw[k] / 12, 6e-8) << k;  // one float ulp
    EXPECT_EQ(quant::kFp4Values[k + 8], -quant::kFp4Values[k]) << k;
  }
}

// Codes are the nearest code book value (checked by brute force away from
// exact midpoints, where bitsandbytes' float thresholds decide).
template <typename CodeFn>
void ExpectNearestCode(const float* values, CodeFn code) {
  uint64_t s = 12345;
  for (int i = 0; i < 200000; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    const float x = static_cast<float>(static_cast<double>(s >> 11) * 0x1.0p-53 * 2.0 - 1.0);
    int best = 0;
    double best_d = 1e30, second_d = 1e30;
    for (int k = 0; k < 16; ++k) {
      const double d = std::fabs(static_cast<double>(x) - values[k]);
      if (d < best_d) {
        second_d = best_d;
        best_d = d;
        best = k;
      } else if (d < second_d) {
        second_d = d;
      }
    }
    if (second_d - best_d < 1e-6) continue;
    ASSERT_EQ(values[code(x)], values[best]) << "x = " << x;
  }
}

TEST(Nf4, QuantizesToNearestCode) { ExpectNearestCode(quant::kNf4Values, quant::Nf4Code); }
TEST(Fp4, QuantizesToNearestCode) { ExpectNearestCode(quant::kFp4Values, quant::Fp4Code); }

TEST(Nf4, BlockLayoutAndRoundTrip) {
  // One block: element 2j in the high nibble; the absmax element maps to +-1
  // and decodes exactly; values at code points decode exactly too.
  float x[64];
  for (int j = 0; j < 64; ++j) x[j] = 3.0f * quant::kNf4Values[j % 16];
  quant::BlockNf4 b;
  quant::QuantizeRowNf4(x, &b, 64);
  EXPECT_EQ(b.absmax, 3.0f);
  EXPECT_EQ(b.qs[0], 0x01);  // elements 0 and 1: codes 0 and 1
  EXPECT_EQ(b.qs[7], 0xef);  // elements 14 and 15
  float y[64];
  quant::DequantizeRowNf4(&b, y, 64);
  for (int j = 0; j < 64; ++j) EXPECT_NEAR(y[j], x[j], 3e-7f) << j;
  EXPECT_EQ(y[0], -3.0f);
  EXPECT_EQ(y[15], 3.0f);

  // Zero block: bitsandbytes' 0 * (1/0) is NaN, which takes code 0 (-1) times 0.
  const float zeros[64] = {};
  quant::QuantizeRowNf4(zeros, &b, 64);
  EXPECT_EQ(b.absmax, 0.0f);
  quant::DequantizeRowNf4(&b, y, 64);
  for (float v : y) EXPECT_EQ(v, 0.0f);
}

TEST(Fp4, SignAndMagnitudeCodes) {
  float x[64] = {};
  x[0] = -2.0f;      // absmax: code 8 + 3 (-1.0)
  x[1] = 1.0f;       // 0.5: code 5
  x[2] = 0.5f;       // 0.25: code 7
  x[3] = -1.0f / 3;  // -0.1667: code 8 + 6
  quant::BlockFp4 b;
  quant::QuantizeRowFp4(x, &b, 64);
  EXPECT_EQ(b.absmax, 2.0f);
  EXPECT_EQ(b.qs[0], 0xb5);
  EXPECT_EQ(b.qs[1], 0x7e);
  float y[64];
  quant::DequantizeRowFp4(&b, y, 64);
  EXPECT_EQ(y[0], -2.0f);
  EXPECT_EQ(y[1], 1.0f);
  EXPECT_EQ(y[2], 0.5f);
  EXPECT_NEAR(y[3], -1.0f / 3, 1e-7f);
}

TEST(IntGroup, HandComputedInt4Group) {
  // x = (j % 16 - 4) / 2: range [-2, 5.5] = 7.5 over 15 steps, scale 0.5
  // exactly, zero = round(2 / 0.5) = 4, q = j % 16.
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j % 16 - 4) * 0.5f;
  quant::BlockIntGroup<4, 32> b;
  quant::QuantizeRowIntGroup<4, 32>(x, &b, 32);
  EXPECT_EQ(b.scale, 0x3800);
  EXPECT_EQ(b.zero, 4);
  EXPECT_EQ(b.pad, 0);
  for (int k = 0; k < 16; ++k) EXPECT_EQ(b.qs[k], ((2 * k) % 16) | (((2 * k + 1) % 16) << 4)) << k;
  float y[32];
  quant::DequantizeRowIntGroup<4, 32>(&b, y, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], x[j]) << j;
}

TEST(IntGroup, RangeIncludesZeroAndErrorIsHalfAStep) {
  uint64_t s = 99;
  const auto next = [&] {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<float>(static_cast<double>(s >> 11) * 0x1.0p-53);
  };
  for (DType t : {kInt4G32, kInt4G64, kInt4G128, kInt8G32, kInt8G64, kInt8G128}) {
    const TypeTraits& tr = GetTypeTraits(t);
    const int g = static_cast<int>(tr.block_size);
    const int maxq = tr.type_size - 4 == static_cast<size_t>(g) ? 255 : 15;
    std::vector<float> x(8 * 128);
    for (size_t i = 0; i < x.size(); ++i)
      x[i] = (next() - (i < 512 ? 0.5f : -0.2f)) * 3.0f;  // some all-positive groups
    std::vector<uint8_t> q(Bytes(t, static_cast<int64_t>(x.size())));
    std::vector<float> y(x.size());
    tr.from_float(x.data(), q.data(), static_cast<int64_t>(x.size()));
    tr.to_float(q.data(), y.data(), static_cast<int64_t>(x.size()));
    for (size_t b = 0; b < x.size() / g; ++b) {
      float lo = 0, hi = 0;
      for (int j = 0; j < g; ++j) {
        lo = std::min(lo, x[b * g + j]);
        hi = std::max(hi, x[b * g + j]);
      }
      const float step = (hi - lo) / maxq;
      // Half a step, plus what the fp16 scale's rounding can move the ends.
      const float bound = step * 0.5f + (hi - lo) * (1.0f / 1024) + 1e-6f;
      for (int j = 0; j < g; ++j) {
        ASSERT_LE(std::fabs(y[b * g + j] - x[b * g + j]), bound) << tr.name << " group " << b;
      }
    }
  }
}

TEST(LeanlmFormats, RegistryRows) {
  const struct {
    DType type;
    const char* name;
    int64_t block;
    size_t bytes;
  } kRows[] = {
      {kNF4, "nf4", 64, 36},
      {kFP4, "fp4", 64, 36},
      {kInt4G32, "int4_g32", 32, 20},
      {kInt4G64, "int4_g64", 64, 36},
      {kInt4G128, "int4_g128", 128, 68},
      {kInt8G32, "int8_g32", 32, 36},
      {kInt8G64, "int8_g64", 64, 68},
      {kInt8G128, "int8_g128", 128, 132},
  };
  for (const auto& r : kRows) {
    EXPECT_GE(static_cast<uint32_t>(r.type), 200u);
    EXPECT_LT(static_cast<uint32_t>(r.type), kMaxTypeId);
    const TypeTraits* t = FindTypeTraits(r.type);
    ASSERT_NE(t, nullptr) << r.name;
    EXPECT_STREQ(t->name, r.name);
    EXPECT_EQ(t->block_size, r.block);
    EXPECT_EQ(t->type_size, r.bytes);
    EXPECT_TRUE(t->is_quantized);
    Result<DType> parsed = ParseTypeName(r.name);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, r.type);
    EXPECT_FALSE(RowBytes(r.type, r.block + 2).ok());
    EXPECT_EQ(Bytes(r.type, 4096), 4096 / r.block * r.bytes);
  }
}

TEST(LeanlmFormats, NonFiniteAndZeroInput) {
  for (DType t : {kNF4, kFP4, kInt4G32, kInt4G64, kInt4G128, kInt8G32, kInt8G64, kInt8G128}) {
    const TypeTraits& tr = GetTypeTraits(t);
    for (float special : {NAN, INFINITY, -INFINITY, 0.0f}) {
      std::vector<float> x(256, special == 0.0f ? 0.0f : 1.5f);
      x[3] = special;
      std::vector<uint8_t> q(Bytes(t, 256));
      std::vector<float> y(256);
      tr.from_float(x.data(), q.data(), 256);
      tr.to_float(q.data(), y.data(), 256);
      if (special == 0.0f) {
        for (float v : y) ASSERT_EQ(v, 0.0f) << tr.name;
      }
    }
  }
}

// On N(0,1) weights NF4 beats FP4 at the same size (QLoRA's motivation), and
// asymmetric INT4 with a group of 64 (also 4.5 bits per weight) is close.
TEST(LeanlmFormats, Nf4OnGaussianWeights) {
  std::vector<float> x(64 * 256);
  uint64_t s = 5;
  for (float& v : x) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    const double u1 = 1.0 - static_cast<double>(s >> 11) * 0x1.0p-53;
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    const double u2 = static_cast<double>(s >> 11) * 0x1.0p-53;
    v = static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * std::numbers::pi * u2));
  }
  const auto rmse = [&](DType t) {
    const TypeTraits& tr = GetTypeTraits(t);
    std::vector<uint8_t> q(Bytes(t, static_cast<int64_t>(x.size())));
    std::vector<float> y(x.size());
    tr.from_float(x.data(), q.data(), static_cast<int64_t>(x.size()));
    tr.to_float(q.data(), y.data(), static_cast<int64_t>(x.size()));
    double e = 0;
    for (size_t i = 0; i < x.size(); ++i) e += (y[i] - x[i]) * static_cast<double>(y[i] - x[i]);
    return std::sqrt(e / x.size());
  };
  const double nf4 = rmse(kNF4), fp4 = rmse(kFP4), int4 = rmse(kInt4G64);
  EXPECT_LT(nf4, fp4);
  EXPECT_LT(nf4, 0.1);
  EXPECT_NEAR(nf4, int4, 0.01);
}

}  // namespace
}  // namespace leanlm
