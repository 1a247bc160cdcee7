// TensorView: a non-owning view of a tensor's bytes. Shapes follow ggml's
// order: ne[0] is the contiguous row length, ne[1] the number of rows, and so
// on. A linear layer's weight (PyTorch [out, in]) is ne = {in, out}. Float and
// block-quantized weights flow through the same view.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/dtype.h"

namespace leanlm {

struct TensorView {
  const void* data = nullptr;
  DType type = DType::kF32;
  int n_dims = 0;
  std::array<int64_t, 4> ne{1, 1, 1, 1};

  int64_t cols() const { return ne[0]; }
  int64_t rows() const { return ne[1] * ne[2] * ne[3]; }
  int64_t elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  size_t row_bytes() const { return RowBytes(type, ne[0]).value(); }
  size_t bytes() const { return row_bytes() * static_cast<size_t>(rows()); }
  const uint8_t* row(int64_t r) const { return static_cast<const uint8_t*>(data) + r * row_bytes(); }
  const float* f32() const { return static_cast<const float*>(data); }
  bool valid() const { return data != nullptr && n_dims > 0; }
  std::string shape_string() const;  // "[64, 512]"
};

}  // namespace leanlm
