#include "ops/embedding.h"

#include "ops/vec.h"

namespace leanlm {

void EmbeddingForward(float* out, const TensorView& table, const int32_t* tokens, int64_t n, float scale) {
  const int64_t dim = table.cols();
  const TypeTraits& traits = GetTypeTraits(table.type);
  for (int64_t i = 0; i < n; ++i) {
    LEANLM_CHECK(tokens[i] >= 0 && tokens[i] < table.rows());
    float* row = out + i * dim;
    traits.to_float(table.row(tokens[i]), row, dim);
    if (scale != 1.0f) vec::Scale(row, scale, dim);
  }
}

}  // namespace leanlm
