// A model's linear weights packed for the decode kernels (ops/packed_weights.h)
// into memory of their own, on huge pages. LlamaModel multiplies with them
// when present; weights that do not pack (types without packed kernels, rows
// not a multiple of 16, a head tied to the embeddings, which lookups read by
// row) keep their views. The views stay valid: everything but the forward's
// matrix products (adapters, training, saving) reads those.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "base/huge_buffer.h"
#include "base/status.h"
#include "base/thread_pool.h"
#include "model/weights.h"
#include "ops/packed_weights.h"
#include "peft/adapter_shapes.h"

namespace leanlm {

class PackedLinears {
 public:
  // Called with each source view after it is packed (a mapped file can
  // release its pages then).
  using SourceDone = std::function<void(const TensorView&)>;

  // Packs every weight of `w` that can be; null when none can.
  static Result<std::unique_ptr<PackedLinears>> Pack(const ModelWeights& w, ThreadPool& pool,
                                                     const SourceDone& done = {});

  // Invalid (PackedWeight::valid() false) where that weight did not pack.
  const PackedWeight& layer(int64_t l, LinearSlot slot) const {
    return layers_[static_cast<size_t>(l)][static_cast<size_t>(slot)];
  }
  const PackedWeight& output() const { return output_; }
  size_t bytes() const { return buffer_.size(); }

 private:
  HugeBuffer buffer_;
  std::vector<std::array<PackedWeight, kLinearSlots>> layers_;
  PackedWeight output_;
};

}  // namespace leanlm
