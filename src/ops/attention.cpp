#include "ops/attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "ops/parallel.h"
#include "ops/softmax.h"
#include "ops/vec.h"

namespace leanlm {
namespace {

constexpr int64_t kLineFloats = 16;  // 64-byte cache line

int64_t RowStride(int64_t n_kv) { return (n_kv + kLineFloats - 1) / kLineFloats * kLineFloats; }

// One query row against one kv head for `heads` of its query heads:
//   q, out: (heads, head_dim); k, v: rows 0..len-1 of the kv head, kv_stride
//   apart; scores: (heads, stride) scratch, left holding the softmax weights.
[[gnu::always_inline]] inline void AttendGroup(float* out, float* scores, const float* q, const float* k,
                                               const float* v, int64_t heads, int64_t len, int64_t kv_stride,
                                               int64_t head_dim, int64_t stride, float scale) {
  for (int64_t p = 0; p < len; ++p) {
    const float* kp = k + p * kv_stride;
    for (int64_t r = 0; r < heads; ++r) scores[r * stride + p] = vec::Dot(q + r * head_dim, kp, head_dim) * scale;
  }
  for (int64_t r = 0; r < heads; ++r) SoftmaxForward(scores + r * stride, len);
  std::memset(out, 0, static_cast<size_t>(heads * head_dim) * sizeof(float));
  for (int64_t p = 0; p < len; ++p) {
    const float* vp = v + p * kv_stride;
    for (int64_t r = 0; r < heads; ++r) vec::Axpy(out + r * head_dim, scores[r * stride + p], vp, head_dim);
  }
}

LEANLM_TARGET_AVX2 void AttendGroupAvx2(float* out, float* scores, const float* q, const float* k, const float* v,
                                        int64_t heads, int64_t len, int64_t kv_stride, int64_t head_dim,
                                        int64_t stride, float scale) {
  AttendGroup(out, scores, q, k, v, heads, len, kv_stride, head_dim, stride, scale);
}
void AttendGroupBase(float* out, float* scores, const float* q, const float* k, const float* v, int64_t heads,
                     int64_t len, int64_t kv_stride, int64_t head_dim, int64_t stride, float scale) {
  AttendGroup(out, scores, q, k, v, heads, len, kv_stride, head_dim, stride, scale);
}

}  // namespace

void AttentionForward(float* out, float* probs, const float* q, const KvView& kv, int64_t n, int64_t pos0,
                      const AttentionDims& dims, ThreadPool& pool) {
  const int64_t head_dim = dims.head_dim, n_head = dims.n_head, n_head_kv = dims.n_head_kv;
  const int64_t group = n_head / n_head_kv;
  const int64_t n_kv = pos0 + n, stride = RowStride(n_kv);
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  // Split each group into slices when there are too few (query, kv head)
  // pairs to keep every thread busy (decode with few kv heads).
  const int64_t pairs = n * n_head_kv;
  const int64_t slices = std::min(group, (4 * pool.size() + pairs - 1) / pairs);
  const int64_t per_slice = (group + slices - 1) / slices;
  const int64_t items = pairs * slices;
  // Each task claims items until none is left; a task whose thread is late
  // finds the work done.
  const auto attend = vec::UseAvx2() ? AttendGroupAvx2 : AttendGroupBase;
  std::atomic<int64_t> next{0};
  RunTasks(pool, pool.size(), [&](int task) {
    auto* scores = static_cast<float*>(pool.Scratch(task, static_cast<size_t>(group * stride) * sizeof(float)));
    for (;;) {
      const int64_t item = next.fetch_add(1, std::memory_order_relaxed);
      if (item >= items) break;
      const int64_t i = n - 1 - item / (n_head_kv * slices);  // later queries see more keys: hand them out first
      const int64_t g = item / slices % n_head_kv;
      const int64_t h0 = g * group + item % slices * per_slice;  // first query head of the slice
      const int64_t heads = std::min(per_slice, (g + 1) * group - h0);
      if (heads <= 0) continue;
      const int64_t len = pos0 + i + 1;
      const int64_t at = (i * n_head + h0) * head_dim;
      attend(out + at, scores, q + at, kv.k + g * kv.head_stride, kv.v + g * kv.head_stride, heads, len,
                  kv.pos_stride, head_dim, stride, scale);
      if (probs != nullptr) {
        for (int64_t r = 0; r < heads; ++r) {
          float* row = probs + (i * n_head + h0 + r) * n_kv;
          std::memcpy(row, scores + r * stride, static_cast<size_t>(len) * sizeof(float));
          std::memset(row + len, 0, static_cast<size_t>(n_kv - len) * sizeof(float));
        }
      }
    }
  });
}

}  // namespace leanlm
