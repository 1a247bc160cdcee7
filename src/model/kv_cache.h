// Keys and values of past positions, per layer, F32: k[layer][pos][kv_dim].
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"

namespace leanlm {

class KvCache {
 public:
  KvCache(const ModelConfig& config, int64_t n_ctx);
  int64_t n_ctx() const { return n_ctx_; }
  int64_t kv_dim() const { return kv_dim_; }
  float* k(int64_t layer, int64_t pos) { return k_.data() + (layer * n_ctx_ + pos) * kv_dim_; }
  float* v(int64_t layer, int64_t pos) { return v_.data() + (layer * n_ctx_ + pos) * kv_dim_; }

 private:
  int64_t n_ctx_, kv_dim_;
  std::vector<float> k_, v_;
};

}  // namespace leanlm
