// Keys and values of past positions, per layer, F32: k[layer][pos][kv_dim].
// A layer's rows are contiguous, so the K/V projections of a batch of tokens
// write straight into the cache and attention reads it as a matrix.
#pragma once

#include <cstdint>
#include <memory>

#include "model/config.h"

namespace leanlm {

class KvCache {
 public:
  // The config must have passed Validate(); 0 < n_ctx. Memory is reserved,
  // not touched: pages are faulted in as positions are written.
  KvCache(const ModelConfig& config, int64_t n_ctx);
  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_layer() const { return n_layer_; }
  int64_t kv_dim() const { return kv_dim_; }
  float* k(int64_t layer, int64_t pos) { return k_.get() + (layer * n_ctx_ + pos) * kv_dim_; }
  float* v(int64_t layer, int64_t pos) { return v_.get() + (layer * n_ctx_ + pos) * kv_dim_; }

 private:
  int64_t n_ctx_, n_layer_, kv_dim_;
  std::unique_ptr<float[]> k_, v_;
};

}  // namespace leanlm
