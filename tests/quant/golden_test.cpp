// leanlm's reference quantizers against llama.cpp's: the same F32 rows must
// give the same bytes, and the same bytes the same floats, bit for bit.
// Fixtures were written by tests/reference/make_quant_goldens.cpp linked
// against ggml from llama.cpp b4747 (see that file for the layout).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "base/fp16.h"

namespace leanlm {
namespace {

const std::string kFixtureDir = std::string(LEANLM_SOURCE_DIR) + "/tests/fixtures/quant/";

std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Reads little-endian fields in order, remembering if any read ran past the end.
class Reader {
 public:
  explicit Reader(const std::vector<uint8_t>& bytes) : bytes_(bytes) {}
  bool Magic(const char* m) {
    if (!Need(4)) return false;
    const bool same = std::memcmp(bytes_.data() + pos_, m, 4) == 0;
    pos_ += 4;
    return same;
  }
  template <typename T>
  T Get() {
    T v{};
    if (Need(sizeof(T))) std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  template <typename T>
  std::vector<T> Array(uint64_t count) {
    std::vector<T> v;
    if (count > bytes_.size() / sizeof(T) || !Need(count * sizeof(T))) return v;
    v.resize(count);
    std::memcpy(v.data(), bytes_.data() + pos_, count * sizeof(T));
    pos_ += count * sizeof(T);
    return v;
  }
  bool AtEnd() const { return ok_ && pos_ == bytes_.size(); }

 private:
  bool Need(uint64_t n) {
    if (pos_ > bytes_.size() || n > bytes_.size() - pos_) ok_ = false;
    return ok_;
  }
  const std::vector<uint8_t>& bytes_;
  size_t pos_ = 0;
  bool ok_ = true;
};

struct Input {
  uint32_t rows = 0, n_per_row = 0;
  std::vector<float> x;  // (rows, n_per_row)
};

Input LoadInput() {
  const std::vector<uint8_t> bytes = ReadAll(kFixtureDir + "input.bin");
  Reader r(bytes);
  Input in;
  if (!r.Magic("LQI1")) return in;
  in.rows = r.Get<uint32_t>();
  in.n_per_row = r.Get<uint32_t>();
  in.x = r.Array<float>(static_cast<uint64_t>(in.rows) * in.n_per_row);
  if (!r.AtEnd()) in.x.clear();
  return in;
}

struct Golden {
  uint32_t type_id = 0, rows = 0, n_per_row = 0;
  std::vector<uint8_t> q;  // rows of quantized blocks
  std::vector<float> y;    // (rows, n_per_row), ggml's dequantization of q
};

Golden LoadGolden(const std::string& name) {
  const std::vector<uint8_t> bytes = ReadAll(kFixtureDir + name + ".bin");
  Reader r(bytes);
  Golden g;
  if (!r.Magic("LQG1")) return g;
  g.type_id = r.Get<uint32_t>();
  g.rows = r.Get<uint32_t>();
  g.n_per_row = r.Get<uint32_t>();
  g.q = r.Array<uint8_t>(r.Get<uint64_t>());
  g.y = r.Array<float>(static_cast<uint64_t>(g.rows) * g.n_per_row);
  if (!r.AtEnd()) g.y.clear();
  return g;
}

class GoldenTest : public testing::TestWithParam<const char*> {};

TEST_P(GoldenTest, SameBytesAndFloatsAsGgml) {
  const Input in = LoadInput();
  ASSERT_FALSE(in.x.empty()) << "missing or malformed " << kFixtureDir << "input.bin";
  const Golden g = LoadGolden(GetParam());
  ASSERT_FALSE(g.y.empty()) << "missing or malformed fixture for " << GetParam();
  ASSERT_EQ(g.rows, in.rows);
  ASSERT_EQ(g.n_per_row, in.n_per_row);

  Result<DType> type = ParseTypeName(GetParam());
  ASSERT_TRUE(type.ok()) << GetParam() << " is not registered";
  ASSERT_EQ(static_cast<uint32_t>(*type), g.type_id) << "type id differs from ggml's";
  const TypeTraits& traits = GetTypeTraits(*type);
  ASSERT_TRUE(traits.is_quantized);
  ASSERT_NE(traits.from_float, nullptr);
  ASSERT_NE(traits.to_float, nullptr);
  Result<size_t> row_bytes = RowBytes(*type, g.n_per_row);
  ASSERT_TRUE(row_bytes.ok());
  ASSERT_EQ(*row_bytes * g.rows, g.q.size()) << "row size differs from ggml's";

  std::vector<uint8_t> q(*row_bytes);
  std::vector<float> y(g.n_per_row);
  for (uint32_t r = 0; r < g.rows; ++r) {
    traits.from_float(in.x.data() + static_cast<size_t>(r) * g.n_per_row, q.data(), g.n_per_row);
    const uint8_t* want = g.q.data() + r * *row_bytes;
    for (size_t b = 0; b < q.size(); ++b) {
      ASSERT_EQ(q[b], want[b]) << GetParam() << " row " << r << " block " << b / traits.type_size << " byte "
                               << b % traits.type_size;
    }
    traits.to_float(want, y.data(), g.n_per_row);
    const float* want_y = g.y.data() + static_cast<size_t>(r) * g.n_per_row;
    for (uint32_t j = 0; j < g.n_per_row; ++j) {
      ASSERT_EQ(std::memcmp(&y[j], &want_y[j], sizeof(float)), 0)
          << GetParam() << " row " << r << " element " << j << ": " << y[j] << " vs ggml " << want_y[j];
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, GoldenTest,
                         testing::Values("q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K",
                                         "q8_K", "iq4_nl", "tq1_0", "tq2_0"),
                         [](const testing::TestParamInfo<const char*>& info) { return std::string(info.param); });

// The fp16 rounding of scales decides bytes: check the hard cases (rounding
// midpoints and their neighbours, subnormals, overflow, specials) against ggml.
TEST(GoldenFp16, Fp32ToFp16MatchesGgml) {
  const std::vector<uint8_t> bytes = ReadAll(kFixtureDir + "fp16.bin");
  Reader r(bytes);
  ASSERT_TRUE(r.Magic("LQH1"));
  const auto count = r.Get<uint32_t>();
  const std::vector<float> in = r.Array<float>(count);
  const std::vector<uint16_t> want = r.Array<uint16_t>(count);
  ASSERT_TRUE(r.AtEnd());
  ASSERT_GT(count, 1000u);
  for (uint32_t i = 0; i < count; ++i) {
    ASSERT_EQ(Fp32ToFp16(in[i]), want[i]) << "input " << in[i] << " (case " << i << ")";
  }
}

}  // namespace
}  // namespace leanlm
