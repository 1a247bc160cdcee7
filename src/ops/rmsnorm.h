// RMSNorm: y = x / sqrt(mean(x²) + eps) * weight, row by row.
#pragma once

#include <cstdint>

#include "base/thread_pool.h"

namespace leanlm {

// out, x: (n, dim), distinct; weight: (dim).
// rstd: optional (n), receives 1 / sqrt(mean(x²) + eps) of each row — what a
// backward needs besides x and weight; inference passes nullptr.
void RmsNormForward(float* out, float* rstd, const float* x, const float* weight, int64_t n, int64_t dim, float eps,
                    ThreadPool& pool);

}  // namespace leanlm
