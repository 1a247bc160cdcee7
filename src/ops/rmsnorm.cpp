#include "ops/rmsnorm.h"

#include <cmath>

#include "ops/parallel.h"
#include "ops/vec.h"

namespace leanlm {
namespace {

// Normalizes one row; returns its rstd.
[[gnu::always_inline]] inline float NormRow(float* __restrict out, const float* __restrict x,
                                            const float* __restrict weight, int64_t dim, float eps) {
  const float r = 1.0f / std::sqrt(vec::SumSquares(x, dim) / static_cast<float>(dim) + eps);
  int64_t j = 0;
  for (; j + vec::kBlock <= dim; j += vec::kBlock) {
    for (int64_t b = 0; b < vec::kBlock; ++b) out[j + b] = x[j + b] * r * weight[j + b];
  }
  for (; j < dim; ++j) out[j] = x[j] * r * weight[j];
  return r;
}

LEANLM_TARGET_AVX2 float NormRowAvx2(float* out, const float* x, const float* weight, int64_t dim, float eps) {
  return NormRow(out, x, weight, dim, eps);
}
float NormRowBase(float* out, const float* x, const float* weight, int64_t dim, float eps) {
  return NormRow(out, x, weight, dim, eps);
}

}  // namespace

void RmsNormForward(float* out, float* rstd, const float* x, const float* weight, int64_t n, int64_t dim, float eps,
                    ThreadPool& pool) {
  // A row of a few thousand floats takes well under a microsecond: only
  // batches are worth splitting across threads.
  const int64_t grain = std::max<int64_t>(1, 16384 / dim);
  const auto norm_row = vec::UseAvx2() ? NormRowAvx2 : NormRowBase;
  ParallelFor(pool, n, grain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float r = norm_row(out + i * dim, x + i * dim, weight, dim, eps);
      if (rstd != nullptr) rstd[i] = r;
    }
  });
}

}  // namespace leanlm
