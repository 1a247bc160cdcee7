#include "io/rope_permute.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "base/fp16.h"

namespace leanlm {
namespace {

struct PermutationCase {
  int64_t rows, n_head;
  std::vector<int64_t> to_interleaved, to_halves;  // source row of each output row
};

// Printed by tests/reference/gen_rope_permute.py from llama.cpp's and
// transformers' published permutations, run in PyTorch.
const std::vector<PermutationCase> kTorchCases = {
    {8, 1, {0, 4, 1, 5, 2, 6, 3, 7}, {0, 2, 4, 6, 1, 3, 5, 7}},
    {12, 3, {0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11}, {0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11}},
    {16, 2, {0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15},
     {0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15}},
    {24, 4, {0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11, 12, 15, 13, 16, 14, 17, 18, 21, 19, 22, 20, 23},
     {0, 2, 4, 1, 3, 5, 6, 8, 10, 7, 9, 11, 12, 14, 16, 13, 15, 17, 18, 20, 22, 19, 21, 23}},
};

TensorView View(const void* data, DType type, int n_dims, int64_t ne0, int64_t ne1) {
  TensorView v;
  v.data = data;
  v.type = type;
  v.n_dims = n_dims;
  v.ne = {ne0, ne1, 1, 1};
  return v;
}

TEST(RopePermuteTest, MatchesPublishedPermutations) {
  for (const PermutationCase& c : kTorchCases) {
    SCOPED_TRACE(c.rows);
    const int64_t cols = 3;
    std::vector<float> w(c.rows * cols);
    for (int64_t r = 0; r < c.rows; ++r) {
      for (int64_t k = 0; k < cols; ++k) w[r * cols + k] = static_cast<float>(r * 100 + k);
    }
    for (RopeLayout to : {RopeLayout::kInterleaved, RopeLayout::kHalves}) {
      const auto& expected = to == RopeLayout::kInterleaved ? c.to_interleaved : c.to_halves;
      std::vector<float> out(w.size());
      ASSERT_TRUE(PermuteRopeRows(View(w.data(), DType::kF32, 2, cols, c.rows), c.n_head, to, out.data()).ok());
      for (int64_t r = 0; r < c.rows; ++r) {
        EXPECT_EQ(RopeSourceRow(r, c.rows / c.n_head, to), expected[r]);
        for (int64_t k = 0; k < cols; ++k) EXPECT_EQ(out[r * cols + k], expected[r] * 100 + k);
      }
      // A bias permutes like a one-column weight.
      std::vector<float> bias(c.rows), bias_out(c.rows);
      std::iota(bias.begin(), bias.end(), 0.0f);
      ASSERT_TRUE(PermuteRopeRows(View(bias.data(), DType::kF32, 1, c.rows, 1), c.n_head, to, bias_out.data()).ok());
      for (int64_t r = 0; r < c.rows; ++r) EXPECT_EQ(bias_out[r], expected[r]);
    }
  }
}

TEST(RopePermuteTest, RoundTripIsExact) {
  // 4 KV heads of 64 (the shape of a GQA K projection), BF16 rows.
  const int64_t n_head = 4, rows = 256, cols = 40;
  std::vector<uint16_t> w(rows * cols);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<uint16_t>(i * 2654435761u >> 7);
  std::vector<uint16_t> a(w.size()), b(w.size());
  const TensorView src = View(w.data(), DType::kBF16, 2, cols, rows);
  ASSERT_TRUE(PermuteRopeRows(src, n_head, RopeLayout::kHalves, a.data()).ok());
  EXPECT_NE(a, w);
  ASSERT_TRUE(PermuteRopeRows(View(a.data(), DType::kBF16, 2, cols, rows), n_head, RopeLayout::kInterleaved,
                              b.data())
                  .ok());
  EXPECT_EQ(b, w);
}

// The point of the permutation: rotating pairs (2i, 2i+1) of the original
// equals rotating pairs (i, i + d/2) of the permuted rows.
TEST(RopePermuteTest, RotationsAgreeAcrossLayouts) {
  const int64_t d = 8, half = d / 2, pos = 5;
  std::vector<float> q(d), q_halves(d);
  for (int64_t i = 0; i < d; ++i) q[i] = 0.3f * static_cast<float>(i) - 1.0f;
  ASSERT_TRUE(PermuteRopeRows(View(q.data(), DType::kF32, 1, d, 1), 1, RopeLayout::kHalves, q_halves.data()).ok());
  for (int64_t i = 0; i < half; ++i) {
    const double theta = pos * std::pow(10000.0, -2.0 * i / d);
    const double c = std::cos(theta), s = std::sin(theta);
    const double x0 = q[2 * i] * c - q[2 * i + 1] * s, x1 = q[2 * i] * s + q[2 * i + 1] * c;
    const double y0 = q_halves[i] * c - q_halves[i + half] * s, y1 = q_halves[i] * s + q_halves[i + half] * c;
    EXPECT_DOUBLE_EQ(x0, y0);
    EXPECT_DOUBLE_EQ(x1, y1);
  }
}

TEST(RopePermuteTest, RejectsShapesThatDoNotSplitIntoHeads) {
  std::vector<float> w(12 * 2), out(w.size());
  EXPECT_FALSE(PermuteRopeRows(View(w.data(), DType::kF32, 2, 2, 12), 5, RopeLayout::kHalves, out.data()).ok());
  EXPECT_FALSE(PermuteRopeRows(View(w.data(), DType::kF32, 2, 2, 12), 4, RopeLayout::kHalves, out.data()).ok());
  EXPECT_FALSE(PermuteRopeRows(View(w.data(), DType::kF32, 2, 2, 12), 0, RopeLayout::kHalves, out.data()).ok());
  EXPECT_FALSE(PermuteRopeRows(TensorView{}, 1, RopeLayout::kHalves, out.data()).ok());
}

}  // namespace
}  // namespace leanlm
