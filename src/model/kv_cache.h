// Keys and values of past positions, per layer, F32, head-major:
// k[layer][kv_head][pos][head_dim], so attention streams each head's keys
// contiguously.
#pragma once

#include <cstdint>
#include <memory>

#include "model/config.h"
#include "ops/attention.h"

namespace leanlm {

class KvCache {
 public:
  // The config must have passed Validate(); 0 < n_ctx. Memory is reserved,
  // not touched: pages are faulted in as positions are written.
  KvCache(const ModelConfig& config, int64_t n_ctx);
  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_layer() const { return n_layer_; }
  int64_t n_head_kv() const { return n_head_kv_; }
  int64_t head_dim() const { return head_dim_; }

  // Stores positions pos .. pos+n-1 of a layer from token-major rows
  // k, v: (n, n_head_kv, head_dim).
  void Store(int64_t layer, int64_t pos, int64_t n, const float* k, const float* v);
  // The layer's keys and values for AttentionForward.
  KvView View(int64_t layer) const;

 private:
  int64_t Offset(int64_t layer, int64_t head, int64_t pos) const {
    return ((layer * n_head_kv_ + head) * n_ctx_ + pos) * head_dim_;
  }

  int64_t n_ctx_, n_layer_, n_head_kv_, head_dim_;
  std::unique_ptr<float[]> k_, v_;
};

}  // namespace leanlm
