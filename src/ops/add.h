// Element-wise additions of the transformer block: residual connections and
// linear-layer biases.
#pragma once

#include <cstdint>

namespace leanlm {

// y += x; y, x: (count), distinct.
void AddForward(float* y, const float* x, int64_t count);

// y: (n, m), each row += bias (m).
void BiasForward(float* y, const float* bias, int64_t n, int64_t m);

}  // namespace leanlm
