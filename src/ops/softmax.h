// Numerically stable softmax of one row: exp(x - max x) / sum.
#pragma once

#include <cstdint>

namespace leanlm {

// x: (n), n > 0, replaced by its softmax in place (the backward needs only
// that result).
void SoftmaxForward(float* x, int64_t n);

}  // namespace leanlm
