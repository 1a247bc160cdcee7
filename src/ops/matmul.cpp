#include "ops/matmul.h"

#include <vector>

namespace leanlm {

// Reference implementation: converts each weight row to F32 and takes dot
// products. Correct for every registered type; the fast kernels are tested
// against it.
void MatMul(const TensorView& w, const float* x, int64_t n, float* y, ThreadPool& pool) {
  const int64_t k = w.cols(), m = w.rows();
  const auto& traits = GetTypeTraits(w.type);
  pool.ParallelFor(m, 16, [&](int64_t begin, int64_t end) {
    std::vector<float> row(k);
    for (int64_t r = begin; r < end; ++r) {
      traits.to_float(w.row(r), row.data(), k);
      for (int64_t i = 0; i < n; ++i) {
        const float* xi = x + i * k;
        float sum = 0;
        for (int64_t j = 0; j < k; ++j) sum += row[j] * xi[j];
        y[i * m + r] = sum;
      }
    }
  });
}

}  // namespace leanlm
