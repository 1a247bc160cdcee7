// Double quantization of NF4 block constants (bitsandbytes' nested absmax).
#include "quant/double_quant.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace leanlm::quant {
namespace {

// The dynamic map from its definition, in double: per decade e = 0..6, the
// midpoints of 2^e + 1 evenly spaced points in [0.1, 1], times 10^(e-6).
TEST(DoubleQuant, DynamicMapMatchesItsDefinition) {
  const std::array<float, 256> map = DynamicMap8();
  std::vector<double> want = {0.0, 1.0};
  for (int e = 0; e < 7; ++e) {
    const int n = 1 << e;
    for (int k = 0; k < n; ++k) {
      const double mid = 0.1 + (k + 0.5) * 0.9 / n;
      want.push_back(std::pow(10.0, e - 6) * mid);
      want.push_back(-std::pow(10.0, e - 6) * mid);
    }
  }
  std::sort(want.begin(), want.end());
  ASSERT_EQ(want.size(), 256u);
  for (int i = 0; i < 256; ++i) {
    EXPECT_NEAR(map[i], want[i], 1e-6 * std::fabs(want[i]) + 1e-12) << i;
    if (i > 0) {
      EXPECT_LT(map[i - 1], map[i]) << i;
    }
  }
  EXPECT_EQ(map[255], 1.0f);
}

TEST(DoubleQuant, HandExample) {
  // offset 2; values -1 and 1 over a block absmax of 1: 1 is the map's last
  // entry, and -1 is nearest to its first, -0.99297 (the map has no -1).
  const std::array<float, 256> map = DynamicMap8();
  const float absmax[2] = {1.0f, 3.0f};
  const NestedAbsmax n = QuantizeNestedAbsmax(absmax, map);
  EXPECT_EQ(n.offset, 2.0f);
  ASSERT_EQ(n.absmax2.size(), 1u);
  EXPECT_EQ(n.absmax2[0], 1.0f);
  ASSERT_EQ(n.codes.size(), 2u);
  EXPECT_EQ(n.codes[0], 0);
  EXPECT_EQ(n.codes[1], 255);
  float back[2];
  ASSERT_TRUE(DequantizeNestedAbsmax(n, map, back).ok());
  EXPECT_EQ(back[0], map[0] + 2.0f);
  EXPECT_EQ(back[1], 3.0f);
  EXPECT_NEAR(back[0], 1.0f, 0.008f);
}

// The binary search finds the nearest entry, so each value is off by at most
// half the widest gap of the map, times its block's scale.
TEST(DoubleQuant, RoundTripIsWithinHalfAMapStep) {
  const std::array<float, 256> map = DynamicMap8();
  float max_gap = 0;
  for (int i = 1; i < 256; ++i) max_gap = std::max(max_gap, (map[i] - map[i - 1]) / 2);
  // Absmax values of a tensor with 1000 blocks: positive, clustered, a few large.
  std::vector<float> absmax(1000);
  uint64_t s = 3;
  for (size_t i = 0; i < absmax.size(); ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    absmax[i] = 2.5f + static_cast<float>(s >> 40) / static_cast<float>(1 << 24) * (i % 97 == 0 ? 6.0f : 1.5f);
  }
  const NestedAbsmax n = QuantizeNestedAbsmax(absmax, map);
  ASSERT_EQ(n.absmax2.size(), 4u);  // ceil(1000 / 256)
  std::vector<float> back(absmax.size());
  ASSERT_TRUE(DequantizeNestedAbsmax(n, map, back).ok());
  for (size_t i = 0; i < absmax.size(); ++i) {
    EXPECT_LE(std::fabs(back[i] - absmax[i]), max_gap * n.absmax2[i / 256] * 1.001f + 1e-6f) << i;
  }
}

TEST(DoubleQuant, InconsistentSizesAreErrors) {
  const std::array<float, 256> map = DynamicMap8();
  std::vector<float> absmax(300, 1.0f);
  NestedAbsmax n = QuantizeNestedAbsmax(absmax, map);
  std::vector<float> out(300);
  EXPECT_TRUE(DequantizeNestedAbsmax(n, map, out).ok());
  std::vector<float> shorter(299);
  EXPECT_FALSE(DequantizeNestedAbsmax(n, map, shorter).ok());
  EXPECT_FALSE(DequantizeNestedAbsmax(n, std::span<const float>(map.data(), 255), out).ok());
  n.absmax2.pop_back();
  EXPECT_FALSE(DequantizeNestedAbsmax(n, map, out).ok());
}

}  // namespace
}  // namespace leanlm::quant
