// Shared by the tests of the matrix kernels: the CPU levels this machine
// runs, and a weight stored in some type together with its stored values.
#pragma once

#include <cstdint>
#include <vector>

#include "base/cpu_features.h"
#include "base/dtype.h"
#include "base/tensor.h"

namespace leanlm::testing {

inline std::vector<CpuLevel> SupportedCpuLevels() {
  std::vector<CpuLevel> levels;
  for (int l = 0; l < kNumCpuLevels; ++l) {
    if (CpuLevelSupported(static_cast<CpuLevel>(l))) levels.push_back(static_cast<CpuLevel>(l));
  }
  return levels;
}

// `src` (m rows of k) quantized to `type`: the bytes, a view of them and the
// values they decode to (what every kernel must multiply with).
struct StoredWeight {
  std::vector<uint8_t> bytes;
  TensorView view;
  std::vector<float> values;  // (m, k)

  StoredWeight(DType type, int64_t k, int64_t m, const std::vector<float>& src) {
    const TypeTraits& t = GetTypeTraits(type);
    const size_t row_bytes = RowBytes(type, k).value();
    bytes.resize(row_bytes * m);
    values.resize(src.size());
    for (int64_t r = 0; r < m; ++r) {
      t.from_float(src.data() + r * k, bytes.data() + r * row_bytes, k);
      t.to_float(bytes.data() + r * row_bytes, values.data() + r * k, k);
    }
    view.data = bytes.data();
    view.type = type;
    view.n_dims = 2;
    view.ne = {k, m, 1, 1};
  }
};

}  // namespace leanlm::testing
