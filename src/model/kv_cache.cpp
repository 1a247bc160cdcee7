#include "model/kv_cache.h"

#include "base/status.h"

namespace leanlm {

KvCache::KvCache(const ModelConfig& config, int64_t n_ctx)
    : n_ctx_(n_ctx), n_layer_(config.n_layer), kv_dim_(config.kv_dim()) {
  LEANLM_CHECK(n_ctx > 0 && n_layer_ > 0 && kv_dim_ > 0);
  const size_t n = static_cast<size_t>(n_layer_ * n_ctx_ * kv_dim_);
  // new float[n] without () leaves the memory untouched: a long context costs
  // nothing until it is used.
  k_.reset(new float[n]);
  v_.reset(new float[n]);
}

}  // namespace leanlm
