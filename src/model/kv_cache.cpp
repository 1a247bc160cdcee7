#include "model/kv_cache.h"

#include <cstring>

#include "base/status.h"

namespace leanlm {

KvCache::KvCache(const ModelConfig& config, int64_t n_ctx)
    : n_ctx_(n_ctx), n_layer_(config.n_layer), n_head_kv_(config.n_head_kv), head_dim_(config.head_dim) {
  LEANLM_CHECK(n_ctx > 0 && n_layer_ > 0 && n_head_kv_ > 0 && head_dim_ > 0);
  const size_t n = static_cast<size_t>(n_layer_ * n_head_kv_ * n_ctx_ * head_dim_);
  // new float[n] without () leaves the memory untouched: a long context costs
  // nothing until it is used.
  k_.reset(new float[n]);
  v_.reset(new float[n]);
}

void KvCache::Store(int64_t layer, int64_t pos, int64_t n, const float* k, const float* v) {
  const size_t row = static_cast<size_t>(head_dim_) * sizeof(float);
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t g = 0; g < n_head_kv_; ++g) {
      const int64_t src = (t * n_head_kv_ + g) * head_dim_;
      std::memcpy(k_.get() + Offset(layer, g, pos + t), k + src, row);
      std::memcpy(v_.get() + Offset(layer, g, pos + t), v + src, row);
    }
  }
}

KvView KvCache::View(int64_t layer) const {
  return {k_.get() + Offset(layer, 0, 0), v_.get() + Offset(layer, 0, 0), head_dim_, n_ctx_ * head_dim_};
}

}  // namespace leanlm
