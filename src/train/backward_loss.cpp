// Softmax cross-entropy with its gradient in one pass over the logits.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/parallel.h"
#include "ops/vec.h"
#include "train/backward.h"

namespace leanlm {
namespace {

// One row: returns -log softmax(x)[label] and writes (softmax - onehot) · inv
// to d (nullable). exp(x - max) ≤ 1, summed in double, so neither overflow
// nor the order of summation matters.
[[gnu::always_inline]] inline double RowLoss(float* d, const float* x, int64_t n_vocab, int32_t label, float inv) {
  float max = x[0];
  for (int64_t j = 1; j < n_vocab; ++j) max = std::max(max, x[j]);
  // Float partial sums over chunks of 512, chunks summed in double.
  constexpr int64_t kChunk = 64 * vec::kBlock;
  double sum = 0;
  int64_t j = 0;
  for (; j + kChunk <= n_vocab; j += kChunk) {
    float acc[vec::kBlock] = {};
    for (int64_t c = 0; c < kChunk; c += vec::kBlock) {
      for (int64_t b = 0; b < vec::kBlock; ++b) acc[b] += vec::Exp(x[j + c + b] - max);
    }
    for (float a : acc) sum += a;
  }
  for (; j < n_vocab; ++j) sum += vec::Exp(x[j] - max);
  const double loss = std::log(sum) + static_cast<double>(max) - static_cast<double>(x[label]);
  if (d != nullptr) {
    const float scale = static_cast<float>(1.0 / sum) * inv;
    for (j = 0; j < n_vocab; ++j) d[j] = vec::Exp(x[j] - max) * scale;  // d may be x: read before written
    d[label] -= inv;
  }
  return loss;
}

LEANLM_TARGET_AVX2 double RowLossAvx2(float* d, const float* x, int64_t n_vocab, int32_t label, float inv) {
  return RowLoss(d, x, n_vocab, label, inv);
}
double RowLossBase(float* d, const float* x, int64_t n_vocab, int32_t label, float inv) {
  return RowLoss(d, x, n_vocab, label, inv);
}

}  // namespace

CrossEntropyResult CrossEntropyBackward(float* dlogits, const float* logits, const int32_t* labels, int64_t n,
                                        int64_t n_vocab, double grad_denom, ThreadPool& pool) {
  CrossEntropyResult result;
  if (n <= 0) return result;
  LEANLM_CHECK(n_vocab > 0);
  for (int64_t i = 0; i < n; ++i) {
    LEANLM_CHECK(labels[i] < n_vocab);
    if (labels[i] >= 0) ++result.count;
  }
  const double denom = grad_denom > 0 ? grad_denom : static_cast<double>(std::max<int64_t>(result.count, 1));
  const float inv = static_cast<float>(1.0 / denom);
  const auto row_loss = vec::UseAvx2() ? RowLossAvx2 : RowLossBase;
  // Per-row losses summed afterwards in row order: the same total for any
  // thread count.
  auto* losses = static_cast<double*>(pool.Scratch(pool.size(), static_cast<size_t>(n) * sizeof(double)));
  ParallelFor(pool, n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float* d = dlogits != nullptr ? dlogits + i * n_vocab : nullptr;
      if (labels[i] < 0) {
        losses[i] = 0;
        if (d != nullptr) std::memset(d, 0, static_cast<size_t>(n_vocab) * sizeof(float));
        continue;
      }
      losses[i] = row_loss(d, logits + i * n_vocab, n_vocab, labels[i], inv);
    }
  });
  for (int64_t i = 0; i < n; ++i) result.loss_sum += losses[i];
  return result;
}

}  // namespace leanlm
