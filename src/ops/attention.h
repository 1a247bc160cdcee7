// Causal scaled dot-product attention over a cache of keys and values, with
// grouped-query heads (GQA; MQA when n_head_kv == 1).
#pragma once

#include <cstdint>

#include "base/thread_pool.h"

namespace leanlm {

struct AttentionDims {
  int64_t n_head = 0;
  int64_t n_head_kv = 0;  // divides n_head; query head h reads kv head h / (n_head / n_head_kv)
  int64_t head_dim = 0;
};

// Floats of scratch that AttentionForward needs for n_kv positions on
// n_threads threads (a score row per thread, on its own cache lines).
int64_t AttentionScratchSize(int64_t n_kv, int n_threads);

// n new queries at positions pos0 .. pos0+n-1 attend to positions 0 .. their own:
//   q:     (n, n_head, head_dim)
//   k, v:  (pos0 + n, n_head_kv, head_dim)  one layer's cache, new rows written
//   out:   (n, n_head, head_dim) = softmax(q kᵀ / sqrt(head_dim)) v
//   probs: optional (n, n_head, pos0 + n), receives the softmax weights (zero
//          beyond each query's position) for the backward; inference passes nullptr
//   scratch: AttentionScratchSize(pos0 + n, pool.size()) floats
// Work is spread over (query, head) pairs, longest rows first.
void AttentionForward(float* out, float* probs, const float* q, const float* k, const float* v, int64_t n,
                      int64_t pos0, const AttentionDims& dims, float* scratch, ThreadPool& pool);

}  // namespace leanlm
