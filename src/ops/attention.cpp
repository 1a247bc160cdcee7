#include "ops/attention.h"

#include <atomic>
#include <cmath>
#include <cstring>

#include "ops/softmax.h"
#include "ops/vec.h"

namespace leanlm {
namespace {

constexpr int64_t kLineFloats = 16;  // 64-byte cache line

int64_t RowStride(int64_t n_kv) { return (n_kv + kLineFloats - 1) / kLineFloats * kLineFloats; }

}  // namespace

int64_t AttentionScratchSize(int64_t n_kv, int n_threads) { return RowStride(n_kv) * n_threads; }

void AttentionForward(float* out, float* probs, const float* q, const float* k, const float* v, int64_t n,
                      int64_t pos0, const AttentionDims& dims, float* scratch, ThreadPool& pool) {
  const int64_t n_head = dims.n_head, head_dim = dims.head_dim;
  const int64_t group = n_head / dims.n_head_kv;
  const int64_t kv_dim = dims.n_head_kv * head_dim;
  const int64_t n_kv = pos0 + n, stride = RowStride(n_kv);
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const int64_t items = n * n_head;
  std::atomic<int64_t> next{0};
  pool.RunOnAll([&](int thread) {
    float* scores = scratch + thread * stride;
    for (;;) {
      const int64_t item = next.fetch_add(1, std::memory_order_relaxed);
      if (item >= items) break;
      const int64_t i = n - 1 - item / n_head;  // later queries see more keys: hand them out first
      const int64_t h = item % n_head;
      const int64_t len = pos0 + i + 1;
      const float* qh = q + (i * n_head + h) * head_dim;
      const float* kh = k + (h / group) * head_dim;
      const float* vh = v + (h / group) * head_dim;
      for (int64_t p = 0; p < len; ++p) scores[p] = vec::Dot(qh, kh + p * kv_dim, head_dim) * scale;
      SoftmaxForward(scores, len);
      float* oh = out + (i * n_head + h) * head_dim;
      std::memset(oh, 0, static_cast<size_t>(head_dim) * sizeof(float));
      for (int64_t p = 0; p < len; ++p) vec::Axpy(oh, scores[p], vh + p * kv_dim, head_dim);
      if (probs != nullptr) {
        float* row = probs + (i * n_head + h) * n_kv;
        std::memcpy(row, scores, static_cast<size_t>(len) * sizeof(float));
        std::memset(row + len, 0, static_cast<size_t>(n_kv - len) * sizeof(float));
      }
    }
  });
}

}  // namespace leanlm
