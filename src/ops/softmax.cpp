#include "ops/softmax.h"

#include <algorithm>

#include "ops/vec.h"

namespace leanlm {
namespace {

[[gnu::always_inline]] inline void Softmax(float* x, int64_t n) {
  float max = x[0];
  for (int64_t i = 1; i < n; ++i) max = std::max(max, x[i]);
  float acc[vec::kBlock] = {};
  int64_t i = 0;
  for (; i + vec::kBlock <= n; i += vec::kBlock) {
    for (int64_t j = 0; j < vec::kBlock; ++j) {
      x[i + j] = vec::Exp(x[i + j] - max);
      acc[j] += x[i + j];
    }
  }
  float sum = 0;
  for (; i < n; ++i) {
    x[i] = vec::Exp(x[i] - max);
    sum += x[i];
  }
  for (int64_t j = 0; j < vec::kBlock; ++j) sum += acc[j];
  vec::Scale(x, 1.0f / sum, n);
}

LEANLM_TARGET_AVX2 void SoftmaxAvx2(float* x, int64_t n) { Softmax(x, n); }
void SoftmaxBase(float* x, int64_t n) { Softmax(x, n); }

}  // namespace

void SoftmaxForward(float* x, int64_t n) {
  if (vec::UseAvx2()) {
    SoftmaxAvx2(x, n);
  } else {
    SoftmaxBase(x, n);
  }
}

}  // namespace leanlm
