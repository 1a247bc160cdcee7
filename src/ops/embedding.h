// Token embedding lookup.
#pragma once

#include <cstdint>

#include "base/tensor.h"

namespace leanlm {

// out: (n, dim) = scale * table row tokens[i], converted to F32.
// table: ne {dim, n_vocab}, any type with a to_float; every id in
// [0, n_vocab) (the caller checks untrusted ids).
void EmbeddingForward(float* out, const TensorView& table, const int32_t* tokens, int64_t n, float scale);

}  // namespace leanlm
