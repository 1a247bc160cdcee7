// The LLaMA-family transformer: RMSNorm, RoPE, grouped-query attention,
// SwiGLU (or Gemma's GELU-tanh gate), tied or separate head, optional Q/K/V
// biases, scaled embeddings. One forward serves inference and (later)
// training: a training caller passes a tape that the forward fills with what
// the backward needs; inference passes none.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "model/config.h"
#include "model/kv_cache.h"
#include "model/packed_linears.h"
#include "model/weights.h"

namespace leanlm {

class AdapterSet;
class PackedLinears;
struct Adapter;

class LlamaModel {
 public:
  // `weights` come from BindWeights(config, ...). One-dimensional weights
  // (norms, biases) of other types are converted to F32 copies here.
  LlamaModel(ModelConfig config, ModelWeights weights);
  ~LlamaModel();

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }

  // Runs tokens[0..n) at positions pos..pos+n-1, appending their keys and
  // values to the cache (which must already hold positions 0..pos-1). Writes
  // n × n_vocab logits when all_logits, else the last token's n_vocab. Rows
  // go through the weights as matrices, at most kMaxBatch tokens at a time;
  // n == 1 (decode) is matrix-vector. Scratch grows to the largest batch
  // seen and is reused: the forward itself allocates nothing per token. Errors: out-of-range
  // token ids, pos + n beyond the cache, a cache made for another config.
  Status Forward(const int32_t* tokens, int64_t n, int64_t pos, KvCache& cache, float* logits, bool all_logits,
                 ThreadPool& pool);

  static constexpr int64_t kMaxBatch = 512;

  // Adapters applied from the next Forward on, unmerged (LoRA/DoRA on the
  // linears, prompt and prefix virtual tokens); an empty list removes them.
  // Checked against the model; on error the previous adapters stay. With
  // virtual tokens, Forward's positions count the caller's tokens only: the
  // virtual ones occupy cache positions 0 .. n_virtual()-1, written whenever
  // pos == 0, so the cache needs n_virtual() positions more.
  Status SetAdapters(std::vector<std::shared_ptr<const Adapter>> adapters);
  int64_t n_virtual() const;

  // Packs the linear weights that have packed decode kernels
  // (model/packed_linears.h); Forward multiplies with those from then on.
  // Returns the bytes packed (0: none could be). Inference only: training
  // builds its own graph over weights(). `packed_one` (optional) sees each
  // source view once its packed copy is written.
  Result<size_t> PackWeights(ThreadPool& pool, const PackedLinears::SourceDone& packed_one = {});
  size_t packed_bytes() const;  // 0: nothing packed

 private:
  struct Scratch;
  // One batch of n <= kMaxBatch checked tokens; logits (nullable) receives the
  // last row, or every row when all_rows.
  // `embeddings` (n × n_embd, nullable) replaces the tokens' embeddings
  // (prompt tuning's virtual tokens).
  void ForwardBatch(const int32_t* tokens, const float* embeddings, int64_t n, int64_t pos, KvCache& cache,
                    float* logits, bool all_rows, ThreadPool& pool);

  ModelConfig config_;
  ModelWeights weights_;
  std::vector<std::vector<float>> f32_vectors_;  // F32 copies of 1-D weights stored in other types
  std::vector<double> rope_inv_freq_;            // (rotary_dim / 2)
  std::unique_ptr<Scratch> scratch_;
  std::unique_ptr<PackedLinears> packed_;        // null: the views' own layout
  std::unique_ptr<AdapterSet> adapters_;         // null: no adapters, the plain forward
};

}  // namespace leanlm
