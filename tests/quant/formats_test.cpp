// The block formats' registry rows, sizes and error bounds, and blocks worked
// out by hand from the format definitions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "base/fp16.h"
#include "quant/formats/q4_0.h"
#include "quant/formats/q8_0.h"
#include "quant/formats/tq1_0.h"
#include "quant/formats/tq2_0.h"

namespace leanlm {
namespace {

struct FormatFacts {
  DType type;
  const char* name;    // as llama.cpp prints it
  int64_t block_size;  // from ggml's type_traits table
  size_t type_size;    // sizeof(block_*) in ggml-common.h
};

const FormatFacts kFormats[] = {
    {DType::kQ4_0, "q4_0", 32, 18},    {DType::kQ4_1, "q4_1", 32, 20},    {DType::kQ5_0, "q5_0", 32, 22},
    {DType::kQ5_1, "q5_1", 32, 24},    {DType::kQ8_0, "q8_0", 32, 34},    {DType::kQ2_K, "q2_K", 256, 84},
    {DType::kQ3_K, "q3_K", 256, 110},  {DType::kQ4_K, "q4_K", 256, 144},  {DType::kQ5_K, "q5_K", 256, 176},
    {DType::kQ6_K, "q6_K", 256, 210},  {DType::kQ8_K, "q8_K", 256, 292},  {DType::kIQ4_NL, "iq4_nl", 32, 18},
    {DType::kTQ1_0, "tq1_0", 256, 54}, {DType::kTQ2_0, "tq2_0", 256, 66},
};

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

TEST(BlockFormats, RegistryRowsMatchGgml) {
  for (const FormatFacts& f : kFormats) {
    const TypeTraits* t = FindTypeTraits(f.type);
    ASSERT_NE(t, nullptr) << f.name;
    EXPECT_STREQ(t->name, f.name);
    EXPECT_EQ(t->block_size, f.block_size) << f.name;
    EXPECT_EQ(t->type_size, f.type_size) << f.name;
    EXPECT_TRUE(t->is_quantized) << f.name;
    EXPECT_NE(t->to_float, nullptr) << f.name;
    EXPECT_NE(t->from_float, nullptr) << f.name;
    EXPECT_STREQ(TypeName(f.type), f.name);
    Result<DType> parsed = ParseTypeName(Upper(f.name));  // case-insensitive
    ASSERT_TRUE(parsed.ok()) << f.name;
    EXPECT_EQ(*parsed, f.type);
  }
  EXPECT_FALSE(ParseTypeName("q4_2").ok());
}

TEST(BlockFormats, RowAndTensorBytes) {
  for (const FormatFacts& f : kFormats) {
    Result<size_t> one = RowBytes(f.type, f.block_size);
    ASSERT_TRUE(one.ok()) << f.name;
    EXPECT_EQ(*one, f.type_size);
    Result<size_t> row = RowBytes(f.type, 4096);
    ASSERT_TRUE(row.ok()) << f.name;
    EXPECT_EQ(*row, 4096 / f.block_size * f.type_size);
    Result<size_t> empty = RowBytes(f.type, 0);
    ASSERT_TRUE(empty.ok());
    EXPECT_EQ(*empty, 0u);

    // A row that ends inside a block is rejected, never rounded.
    EXPECT_FALSE(RowBytes(f.type, f.block_size + 1).ok()) << f.name;
    EXPECT_FALSE(RowBytes(f.type, f.block_size / 2).ok()) << f.name;
    EXPECT_FALSE(RowBytes(f.type, -f.block_size).ok()) << f.name;

    const int64_t ne[3] = {4096, 11008, 2};
    Result<size_t> tensor = TensorBytes(f.type, ne, 3);
    ASSERT_TRUE(tensor.ok()) << f.name;
    EXPECT_EQ(*tensor, *row * 11008 * 2);
    const int64_t bad_ne[2] = {f.block_size * 3 + 1, 7};
    EXPECT_FALSE(TensorBytes(f.type, bad_ne, 2).ok()) << f.name;
    const int64_t huge_ne[4] = {f.block_size << 20, int64_t{1} << 30, int64_t{1} << 30, 1};
    EXPECT_FALSE(TensorBytes(f.type, huge_ne, 4).ok()) << f.name << ": overflow must be reported";
  }
}

// Portable gaussian stream (Box-Muller over splitmix64), so the data and the
// measured errors are the same on every platform.
class Gauss {
 public:
  explicit Gauss(uint64_t seed) : s_(seed) {}
  float Next() {
    const double u1 = 1.0 - Uniform(), u2 = Uniform();
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  }
  double Uniform() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return static_cast<double>((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
  }

 private:
  uint64_t s_;
};

std::vector<float> RoundTrip(DType type, const std::vector<float>& x) {
  const TypeTraits& t = GetTypeTraits(type);
  Result<size_t> bytes = RowBytes(type, static_cast<int64_t>(x.size()));
  EXPECT_TRUE(bytes.ok());
  std::vector<uint8_t> q(bytes.ok() ? *bytes : 0);
  std::vector<float> y(x.size());
  t.from_float(x.data(), q.data(), static_cast<int64_t>(x.size()));
  t.to_float(q.data(), y.data(), static_cast<int64_t>(x.size()));
  return y;
}

double RelativeRmse(const std::vector<float>& x, const std::vector<float>& y) {
  double e2 = 0, x2 = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    e2 += (static_cast<double>(y[i]) - x[i]) * (static_cast<double>(y[i]) - x[i]);
    x2 += static_cast<double>(x[i]) * x[i];
  }
  return std::sqrt(e2 / x2);
}

// Relative RMS error on N(0,1) data: each bound is about 1.25x what ggml's own
// quantizer gives on gaussian rows (tests/fixtures/quant, row 0), and well
// under the next coarser format's error.
TEST(BlockFormats, GaussianRoundTripError) {
  const struct {
    DType type;
    double max_rel_rmse;
  } kBounds[] = {
      {DType::kQ8_0, 0.0075}, {DType::kQ8_K, 0.010},  {DType::kQ6_K, 0.024}, {DType::kQ5_K, 0.046},
      {DType::kQ5_1, 0.050},  {DType::kQ5_0, 0.056},  {DType::kQ4_K, 0.092}, {DType::kQ4_1, 0.10},
      {DType::kQ4_0, 0.11},   {DType::kIQ4_NL, 0.10}, {DType::kQ3_K, 0.19},  {DType::kQ2_K, 0.35},
  };
  Gauss g(7);
  std::vector<float> x(16 * 256);
  for (float& v : x) v = g.Next();
  for (const auto& b : kBounds) {
    const double err = RelativeRmse(x, RoundTrip(b.type, x));
    EXPECT_LT(err, b.max_rel_rmse) << TypeName(b.type);
    EXPECT_GT(err, 0.0) << TypeName(b.type);
  }
}

// Worst-case error per block for the linear formats, from their definitions:
// rounding contributes half a step (a full step where Q4_0/Q5_0 clamp the
// largest positive code), and fp16 storage of the scale and min adds at most
// 2^-11 of each times the largest code.
TEST(BlockFormats, LinearFormatsWorstCaseError) {
  Gauss g(11);
  std::vector<float> x(64 * 32);
  for (size_t i = 0; i < x.size(); ++i) x[i] = g.Next() * (i < 1024 ? 1.0f : 0.3f) + (i >= 1536 ? 2.0f : 0.0f);
  constexpr float kHalfUlp = 1.0f / 2048;
  for (DType type : {DType::kQ8_0, DType::kQ4_0, DType::kQ5_0, DType::kQ4_1, DType::kQ5_1}) {
    const std::vector<float> y = RoundTrip(type, x);
    for (size_t b = 0; b < x.size() / 32; ++b) {
      float amax = 0, min = x[32 * b], max = x[32 * b];
      for (size_t j = 32 * b; j < 32 * b + 32; ++j) {
        amax = std::max(amax, std::fabs(x[j]));
        min = std::min(min, x[j]);
        max = std::max(max, x[j]);
      }
      float bound = 0;
      switch (type) {
        case DType::kQ8_0:
          bound = amax / 127 * (0.5f + 127 * kHalfUlp);
          break;
        case DType::kQ4_0:
          bound = amax / 8 * (1.0f + 8 * kHalfUlp);
          break;
        case DType::kQ5_0:
          bound = amax / 16 * (1.0f + 16 * kHalfUlp);
          break;
        case DType::kQ4_1:
          bound = (max - min) / 15 * (0.5f + 15 * kHalfUlp) + std::fabs(min) * kHalfUlp;
          break;
        case DType::kQ5_1:
          bound = (max - min) / 31 * (0.5f + 31 * kHalfUlp) + std::fabs(min) * kHalfUlp;
          break;
        default:
          break;
      }
      bound = bound * 1.0001f + 1e-6f;  // float rounding of the products
      for (size_t j = 32 * b; j < 32 * b + 32; ++j) {
        ASSERT_LE(std::fabs(y[j] - x[j]), bound) << TypeName(type) << " block " << b << " element " << j;
      }
    }
  }
}

// llama.cpp's tests/test-quantize-fns.cpp: data 0.1 + 2 cos(i), 4096 values,
// its error measure sqrt(sum of squared errors) / n, and its thresholds.
TEST(BlockFormats, LlamaCppQuantizeFnsThresholds) {
  std::vector<float> x(32 * 128);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(0.1 + 2 * std::cos(static_cast<float>(i)));
  for (const FormatFacts& f : kFormats) {
    const std::vector<float> y = RoundTrip(f.type, x);
    double sum = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double d = static_cast<double>(x[i]) - y[i];
      sum += d * d;
    }
    const float err = std::sqrt(static_cast<float>(sum)) / static_cast<float>(x.size());
    const float limit = f.type == DType::kTQ1_0 || f.type == DType::kTQ2_0 ? 0.01f
                        : f.type == DType::kQ2_K                           ? 0.0075f
                        : f.type == DType::kQ3_K                           ? 0.0040f
                                                                           : 0.002f;
    EXPECT_LT(err, limit) << f.name;
  }
}

TEST(BlockFormats, Q8_0OfARamp) {
  // x = j - 16: amax 16, d = 16/127 whose nearest half is 0x3008 (0.1259765625);
  // q = round-half-away(x * 127/16).
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);
  quant::BlockQ8_0 b;
  quant::QuantizeRowQ8_0(x, &b, 32);
  EXPECT_EQ(b.d, 0x3008);
  const int8_t want[32] = {-127, -119, -111, -103, -95, -87, -79, -71, -64, -56, -48, -40, -32, -24, -16, -8,
                           0,    8,    16,   24,   32,  40,  48,  56,  64,  71,  79,  87,  95,  103, 111, 119};
  for (int j = 0; j < 32; ++j) EXPECT_EQ(b.qs[j], want[j]) << j;
  float y[32];
  quant::DequantizeRowQ8_0(&b, y, 32);
  EXPECT_EQ(y[0], -127 * 0.1259765625f);
  EXPECT_EQ(y[16], 0.0f);
}

TEST(BlockFormats, Q4_0OfARamp) {
  // x = j - 16: the first value of largest magnitude is -16, so d = -16 / -8 = 2
  // and q = min(15, trunc(x / 2 + 8.5)).
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);
  quant::BlockQ4_0 b;
  quant::QuantizeRowQ4_0(x, &b, 32);
  EXPECT_EQ(b.d, 0x4000);  // 2.0
  const uint8_t want[16] = {0x80, 0x91, 0x91, 0xa2, 0xa2, 0xb3, 0xb3, 0xc4,
                            0xc4, 0xd5, 0xd5, 0xe6, 0xe6, 0xf7, 0xf7, 0xf8};
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b.qs[j], want[j]) << j;
  float y[32];
  quant::DequantizeRowQ4_0(&b, y, 32);
  EXPECT_EQ(y[0], -16.0f);
  EXPECT_EQ(y[1], -14.0f);  // -15 rounds up to -14 (trunc of 1.0)
  EXPECT_EQ(y[31], 14.0f);  // 15 would be code 16: clamped to 15
}

TEST(BlockFormats, TernaryPacking) {
  float x[256];
  for (int j = 0; j < 256; ++j) x[j] = 1.0f;
  quant::BlockTQ1_0 t1;
  quant::QuantizeRowTQ1_0(x, &t1, 256);
  EXPECT_EQ(t1.d, 0x3c00);  // 1.0
  // Five trits of 2 are 242 in base 3, stored as ceil(242 * 256 / 243) = 255;
  // four trits padded with a zero trit are 240, stored as ceil(240 * 256 / 243) = 253.
  for (uint8_t q : t1.qs) EXPECT_EQ(q, 255);
  for (uint8_t q : t1.qh) EXPECT_EQ(q, 253);

  for (int j = 0; j < 256; ++j) x[j] = static_cast<float>(j % 3 - 1) * 0.5f;
  quant::QuantizeRowTQ1_0(x, &t1, 256);
  float y[256];
  quant::DequantizeRowTQ1_0(&t1, y, 256);
  for (int j = 0; j < 256; ++j) EXPECT_EQ(y[j], x[j]) << j;

  quant::BlockTQ2_0 t2;
  quant::QuantizeRowTQ2_0(x, &t2, 256);
  EXPECT_EQ(t2.d, 0x3800);  // 0.5
  // Byte m holds elements m, m+32, m+64, m+96 as (t + 1) in 2 bits each.
  const auto code = [&](int j) { return j % 3; };
  EXPECT_EQ(t2.qs[0], code(0) | code(32) << 2 | code(64) << 4 | code(96) << 6);
  EXPECT_EQ(t2.qs[33], code(129) | code(161) << 2 | code(193) << 4 | code(225) << 6);
  quant::DequantizeRowTQ2_0(&t2, y, 256);
  for (int j = 0; j < 256; ++j) EXPECT_EQ(y[j], x[j]) << j;
}

TEST(BlockFormats, ZeroRowsStayZero) {
  for (const FormatFacts& f : kFormats) {
    std::vector<float> x(512, 0.0f);
    const std::vector<float> y = RoundTrip(f.type, x);
    for (float v : y) ASSERT_EQ(v, 0.0f) << f.name;
  }
}

// Non-finite weights must not crash (or reach undefined float-to-int
// conversions); what they decode to is unspecified, as in ggml.
TEST(BlockFormats, NonFiniteInputIsHandled) {
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), 3e38f};
  for (const FormatFacts& f : kFormats) {
    for (float s : specials) {
      std::vector<float> x(512);
      for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 7) - 3.0f;
      x[5] = s;
      x[300] = s;
      const std::vector<float> y = RoundTrip(f.type, x);
      EXPECT_EQ(y.size(), x.size()) << f.name;
    }
  }
}

}  // namespace
}  // namespace leanlm
