// Adapters applied unmerged at inference, several at once, each with its
// scale; LlamaModel holds one AdapterSet and consults it after every
// adaptable MatMul and at the start of a sequence. Swapping adapters means
// building a new set: the base weights are never touched.
//
// Per adapted linear (input x, base output y = W x, before any bias), in the
// order the adapters were given, as PEFT's lora.Linear.forward does:
//   LoRA: y += s · B (A x)
//   DoRA: y  = f ⊙ (y + s · B (A x)),  f = m / ‖W + s · B A‖_row
// (PEFT's (f - 1)·y + f·s·B A x with its base_result = y), s = scale() times
// the user's scale. f is computed once here from the dequantized W.
// Virtual tokens: prefix adapters' keys/values (in order), then prompt
// adapters' embeddings, occupy the first cache positions of each sequence.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "model/kv_cache.h"
#include "model/weights.h"
#include "peft/adapter.h"
#include "peft/adapter_shapes.h"

namespace leanlm {

class AdapterSet {
 public:
  // Checks every adapter against the model (ValidateAdapter) and prepares
  // them. The adapters are shared, not copied.
  static Result<std::unique_ptr<AdapterSet>> Create(std::vector<std::shared_ptr<const Adapter>> adapters,
                                                    const ModelConfig& config, const ModelWeights& weights);

  // y (n × out) gets the updates of every adapter of (layer, slot), given the
  // linear's input x (n × in). Nothing when none adapts it.
  void Apply(int64_t layer, LinearSlot slot, const float* x, int64_t n, float* y, ThreadPool& pool);

  int64_t n_prefix() const { return n_prefix_; }
  int64_t n_prompt() const { return n_prompt_; }
  int64_t n_virtual() const { return n_prefix_ + n_prompt_; }
  const float* prompt_embeddings() const { return prompt_.data(); }  // (n_prompt, n_embd)
  // Writes the prefix keys/values at cache positions 0 .. n_prefix-1 of every layer.
  void StorePrefix(KvCache& cache) const;

 private:
  struct Update {
    TensorView a, b;           // ne {in, r}, {r, out}: views into the adapter
    float scale = 0;           // s
    std::vector<float> dora;   // (out) f; empty for LoRA
  };
  AdapterSet() = default;

  std::vector<std::shared_ptr<const Adapter>> adapters_;
  std::vector<std::vector<Update>> updates_;  // [layer * kLinearSlots + slot]
  int64_t n_prefix_ = 0, n_prompt_ = 0, kv_dim_ = 0;
  std::vector<std::vector<float>> prefix_k_, prefix_v_;  // per layer (n_prefix, kv_dim)
  std::vector<float> prompt_;
  std::vector<float> ax_, bx_;  // scratch: (n, r), (n, out)
};

}  // namespace leanlm
