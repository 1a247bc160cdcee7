// The LLaMA-family transformer: RMSNorm, RoPE, grouped-query attention,
// SwiGLU, tied or separate head, optional Q/K/V biases. One forward serves
// inference and (later) training: a training caller passes a tape that the
// forward fills with what the backward needs; inference passes none.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "model/config.h"
#include "model/kv_cache.h"
#include "model/weights.h"

namespace leanlm {

class LlamaModel {
 public:
  LlamaModel(ModelConfig config, ModelWeights weights);
  ~LlamaModel();

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }

  // Runs tokens[0..n) at positions pos..pos+n-1, appending their keys and
  // values to the cache. Writes n × n_vocab logits when all_logits, else the
  // last token's n_vocab. Errors: out-of-range token ids, pos + n beyond the
  // cache.
  Status Forward(const int32_t* tokens, int64_t n, int64_t pos, KvCache& cache, float* logits, bool all_logits,
                 ThreadPool& pool);

 private:
  struct Scratch;
  ModelConfig config_;
  ModelWeights weights_;
  std::unique_ptr<Scratch> scratch_;
};

}  // namespace leanlm
