#include "ops/matmul_reference.h"

#include <vector>

namespace leanlm {

void MatMulReference(const TensorView& w, const float* x, int64_t n, float* y, ThreadPool& pool) {
  const int64_t k = w.cols(), m = w.rows();
  const TypeTraits& traits = GetTypeTraits(w.type);
  LEANLM_CHECK(traits.to_float != nullptr);
  const size_t row_bytes = w.row_bytes();
  const auto* data = static_cast<const uint8_t*>(w.data);
  pool.ParallelFor(m, 16, [&](int64_t begin, int64_t end) {
    std::vector<float> row(k);  // (k)
    for (int64_t r = begin; r < end; ++r) {
      traits.to_float(data + r * static_cast<int64_t>(row_bytes), row.data(), k);
      for (int64_t i = 0; i < n; ++i) {
        const float* xi = x + i * k;
        double sum = 0;
        for (int64_t j = 0; j < k; ++j) sum += static_cast<double>(row[j]) * xi[j];
        y[i * m + r] = static_cast<float>(sum);
      }
    }
  });
}

}  // namespace leanlm
