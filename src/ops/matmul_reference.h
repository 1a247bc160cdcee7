// The slow, obviously correct MatMul that every fast path is tested against:
// each weight row is converted with the type's scalar to_float and dotted with
// x in double precision, so its own rounding error (one rounding to F32 at the
// end) is negligible next to the kernels'.
#pragma once

#include <cstdint>

#include "base/tensor.h"
#include "base/thread_pool.h"

namespace leanlm {

// Same contract as MatMul: y (n × m) = x (n × k) · Wᵀ, W with ne {k, m}.
void MatMulReference(const TensorView& w, const float* x, int64_t n, float* y, ThreadPool& pool);

}  // namespace leanlm
