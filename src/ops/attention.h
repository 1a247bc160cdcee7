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

// Keys and values of positions 0 .. n_kv-1: element d of position p in kv
// head g is k[g * head_stride + p * pos_stride + d] (v likewise). Token-major
// rows (n_kv, n_head_kv, head_dim) have pos_stride = n_head_kv * head_dim and
// head_stride = head_dim; a head-major cache (n_head_kv, n_ctx, head_dim) has
// pos_stride = head_dim and head_stride = n_ctx * head_dim, so each head's
// keys are one contiguous stream.
struct KvView {
  const float* k = nullptr;
  const float* v = nullptr;
  int64_t pos_stride = 0;
  int64_t head_stride = 0;
};

// n new queries at positions pos0 .. pos0+n-1 attend to positions 0 .. their own:
//   q:     (n, n_head, head_dim)
//   kv:    keys and values of positions 0 .. pos0+n-1, the new ones included
//   out:   (n, n_head, head_dim) = softmax(q kᵀ / sqrt(head_dim)) v
//   probs: optional (n, n_head, pos0 + n), receives the softmax weights (zero
//          beyond each query's position) for the backward; inference passes nullptr
// The query heads that share a kv head are processed together, so each key
// and value row is read once per query; work is spread over (query, kv head,
// slice of its query heads), longest rows first. Scores live in the pool's
// per-task scratch.
void AttentionForward(float* out, float* probs, const float* q, const KvView& kv, int64_t n, int64_t pos0,
                      const AttentionDims& dims, ThreadPool& pool);

}  // namespace leanlm
