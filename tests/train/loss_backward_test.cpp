// Fused softmax cross-entropy: loss against a float64 log-softmax, dlogits
// against float64 finite differences of the mean loss, ignored labels, the
// gradient denominator, in-place use and large logits.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "backward_test_util.h"
#include "train/backward.h"

namespace leanlm {
namespace {

using namespace testing_backward;

// Mean over rows with label >= 0 of -log softmax(row)[label], in float64.
double MeanLossRef(const std::vector<double>& logits, const std::vector<int32_t>& labels, int64_t vocab) {
  double total = 0;
  int64_t count = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0) continue;
    const double* x = &logits[i * vocab];
    double max = x[0], sum = 0;
    for (int64_t j = 0; j < vocab; ++j) max = std::max(max, x[j]);
    for (int64_t j = 0; j < vocab; ++j) sum += std::exp(x[j] - max);
    total += std::log(sum) + max - x[labels[i]];
    ++count;
  }
  return count > 0 ? total / static_cast<double>(count) : 0.0;
}

TEST(CrossEntropyBackward, MatchesFiniteDifferences) {
  const int64_t n = 6, vocab = 1100;  // past the 512-element chunks of the sum
  const std::vector<int32_t> labels = {5, -1, 1099, 0, -100, 77};
  const auto lf = RandomVec(n * vocab, 3.0f, 61);
  std::vector<double> logits = ToDouble(lf);
  ThreadPool pool(2);
  std::vector<float> d(n * vocab, 1e30f);
  const CrossEntropyResult r = CrossEntropyBackward(d.data(), lf.data(), labels.data(), n, vocab, 0, pool);
  EXPECT_EQ(r.count, 4);
  EXPECT_NEAR(r.mean(), MeanLossRef(logits, labels, vocab), 1e-5);
  const auto fd = NumericGrad(logits, [&] { return MeanLossRef(logits, labels, vocab); });
  ExpectClose(d, fd, 1e-5, "dlogits");
  for (int64_t j = 0; j < vocab; ++j) {  // ignored rows get no gradient
    EXPECT_EQ(d[1 * vocab + j], 0.0f);
    EXPECT_EQ(d[4 * vocab + j], 0.0f);
  }

  // A given denominator scales the gradient, not the loss; in place.
  std::vector<float> inplace = lf;
  const CrossEntropyResult r2 =
      CrossEntropyBackward(inplace.data(), inplace.data(), labels.data(), n, vocab, 10.0, pool);
  EXPECT_DOUBLE_EQ(r2.loss_sum, r.loss_sum);
  std::vector<double> scaled(fd.size());
  for (size_t i = 0; i < fd.size(); ++i) scaled[i] = fd[i] * 4.0 / 10.0;
  ExpectClose(inplace, scaled, 1e-5, "dlogits / 10");

  // Loss only.
  const CrossEntropyResult r3 = CrossEntropyBackward(nullptr, lf.data(), labels.data(), n, vocab, 0, pool);
  EXPECT_DOUBLE_EQ(r3.loss_sum, r.loss_sum);

  // Sharpness: softmax without the one-hot (a dropped term) is caught.
  std::vector<float> wrong = d;
  for (int64_t i = 0; i < n; ++i) {
    if (labels[i] >= 0) wrong[i * vocab + labels[i]] += 0.25f;
  }
  EXPECT_GT(RelError(wrong, fd), 1e-2);
}

TEST(CrossEntropyBackward, LargeLogitsAndNoLabels) {
  const int64_t vocab = 40;
  ThreadPool pool(1);
  // Shifting every logit by 1e4 changes neither loss nor gradient.
  auto lf = RandomVec(2 * vocab, 2.0f, 62);
  const std::vector<int32_t> labels = {3, 39};
  std::vector<float> d(2 * vocab), d_shift(2 * vocab);
  const double loss = CrossEntropyBackward(d.data(), lf.data(), labels.data(), 2, vocab, 0, pool).mean();
  for (float& v : lf) v += 1e4f;
  const double loss_shift = CrossEntropyBackward(d_shift.data(), lf.data(), labels.data(), 2, vocab, 0, pool).mean();
  EXPECT_TRUE(std::isfinite(loss_shift));
  EXPECT_NEAR(loss_shift, MeanLossRef(ToDouble(lf), labels, vocab), 1e-4);
  EXPECT_NEAR(loss_shift, loss, 1e-2);  // the shift rounds the logits to ~1e-3
  for (float v : d_shift) EXPECT_TRUE(std::isfinite(v));

  const std::vector<int32_t> none = {-1, -1};
  const CrossEntropyResult r = CrossEntropyBackward(d.data(), lf.data(), none.data(), 2, vocab, 0, pool);
  EXPECT_EQ(r.count, 0);
  EXPECT_EQ(r.mean(), 0.0);
  for (float v : d) EXPECT_EQ(v, 0.0f);
}

}  // namespace
}  // namespace leanlm
