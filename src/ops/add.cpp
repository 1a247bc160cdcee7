#include "ops/add.h"

#include "ops/vec.h"

namespace leanlm {

void AddForward(float* y, const float* x, int64_t count) { vec::Axpy(y, 1.0f, x, count); }

void BiasForward(float* y, const float* bias, int64_t n, int64_t m) {
  for (int64_t i = 0; i < n; ++i) vec::Axpy(y + i * m, 1.0f, bias, m);
}

}  // namespace leanlm
