// The training graph of a LLaMA-family model: a forward over a batch of
// sequences (full causal attention within each, no KV cache) built from the
// same ops as the inference forward (src/ops; training asks them for the
// saved rstd and attention probabilities), then the backward through every
// layer to the trainable tensors of a TrainableModel — full weights, LoRA /
// DoRA, bottleneck adapters, prompt embeddings, key/value prefixes.
//
// Sequence layout: with prompt tuning, each sequence is the n_virtual
// learned embeddings followed by its T tokens, at positions 0..P+T-1; with
// prefix tuning, every layer's attention first sees the n_virtual prefix keys
// and values, and the tokens sit at positions P..P+T-1 (as Hugging Face
// places tokens after past_key_values).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "train/backward.h"
#include "train/llama_train_model.h"

namespace leanlm {

// B sequences of T tokens. labels[b][t] is the token position t should
// predict (usually tokens[b][t + 1]), or < 0 for no loss there.
struct TrainBatch {
  const int32_t* tokens = nullptr;  // (B, T)
  const int32_t* labels = nullptr;  // (B, T)
  int64_t batch = 0;
  int64_t seq = 0;
};

struct TrainGraphOptions {
  // Keep only each layer's input in the forward and recompute the layer
  // just before its backward: activation memory of one layer instead of all,
  // and attention probabilities of one sequence (S × n_head × K) instead of
  // the batch's (each sequence's attention forward runs again).
  bool recompute = false;
};

class LlamaTrainGraph {
 public:
  // `model` must outlive the graph; its tensors are read at every call.
  explicit LlamaTrainGraph(TrainableModel& model, TrainGraphOptions options = {});
  ~LlamaTrainGraph();

  // Runs the forward and the backward of the mean cross-entropy over the
  // labelled positions and adds (+=) its gradient to every trainable tensor.
  // The gradient is divided by grad_denom when > 0 (the label count of a
  // whole accumulated batch), else by this batch's count. LoRA dropout masks
  // derive from dropout_seed. Errors: empty batch, token or label outside the
  // vocabulary.
  Result<CrossEntropyResult> ForwardBackward(const TrainBatch& batch, double grad_denom, uint64_t dropout_seed,
                                             ThreadPool& pool);

  // The loss alone (no dropout, no gradients).
  Result<CrossEntropyResult> Evaluate(const TrainBatch& batch, ThreadPool& pool);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace leanlm
