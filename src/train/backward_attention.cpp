// Backward of causal GQA attention. With S = q kᵀ · scale, P = softmax(S)
// (saved by the forward) and out = P v:
//   dv[p] = Σ_{i,h} P[i,h,p] dout[i,h]
//   dS[i,h,p] = P[i,h,p] (dout[i,h]·v[p] - Σ_p' P[i,h,p'] dout[i,h]·v[p'])
//   dq[i,h] = scale Σ_p dS[i,h,p] k[p]
//   dk[p] = scale Σ_{i,h} dS[i,h,p] q[i,h]
// where h runs over the query heads of the kv head and p over the positions
// query i sees (0 .. pos0 + i). Three passes, each with one writer per output
// row: dv over (position, kv head), then dS and dq over (query, kv head),
// then dk over (position, kv head). dv goes first so dS may overwrite P.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "ops/parallel.h"
#include "ops/vec.h"
#include "train/backward.h"

namespace leanlm {
namespace {

struct Shape {
  int64_t n, pos0, n_kv, n_head, n_head_kv, group, head_dim;
  float scale;
};

// out[p] = mul · Σ over queries i that see p and heads h of kv head g of
// w[i, h, p] · src[i, h]: the sum behind both dv (w = P, src = dout) and dk
// (w = dS, src = q), for one (position, kv head).
[[gnu::always_inline]] inline void GatherPosition(float* out, const float* w, const float* src, const Shape& s,
                                                  int64_t p, int64_t g, float mul) {
  std::memset(out, 0, static_cast<size_t>(s.head_dim) * sizeof(float));
  for (int64_t i = std::max<int64_t>(0, p - s.pos0); i < s.n; ++i) {
    for (int64_t h = g * s.group; h < (g + 1) * s.group; ++h) {
      const int64_t row = i * s.n_head + h;
      const float a = w[row * s.n_kv + p];
      if (a != 0.0f) vec::Axpy(out, a * mul, src + row * s.head_dim, s.head_dim);
    }
  }
}

// For query i and kv head g: the score gradients of its query heads into
// ds (which may be p itself) and their dq. dp: (n_kv) scratch.
[[gnu::always_inline]] inline void ScoresAndDq(float* dq, float* ds, float* dp, const float* dout, const float* k,
                                               const float* v, int64_t kv_stride, const float* probs, const Shape& s,
                                               int64_t i, int64_t g) {
  const int64_t len = s.pos0 + i + 1;
  for (int64_t h = g * s.group; h < (g + 1) * s.group; ++h) {
    const int64_t row = i * s.n_head + h;
    const float* d = dout + row * s.head_dim;
    const float* pr = probs + row * s.n_kv;
    float* dsr = ds + row * s.n_kv;
    for (int64_t p = 0; p < len; ++p) dp[p] = vec::Dot(d, v + p * kv_stride, s.head_dim);
    const float dot = vec::Dot(pr, dp, len);
    for (int64_t p = 0; p < len; ++p) dsr[p] = pr[p] * (dp[p] - dot);
    std::memset(dsr + len, 0, static_cast<size_t>(s.n_kv - len) * sizeof(float));
    float* dqr = dq + row * s.head_dim;
    std::memset(dqr, 0, static_cast<size_t>(s.head_dim) * sizeof(float));
    for (int64_t p = 0; p < len; ++p) {
      if (dsr[p] != 0.0f) vec::Axpy(dqr, dsr[p] * s.scale, k + p * kv_stride, s.head_dim);
    }
  }
}

LEANLM_TARGET_AVX2 void GatherPositionAvx2(float* out, const float* w, const float* src, const Shape& s, int64_t p,
                                           int64_t g, float mul) {
  GatherPosition(out, w, src, s, p, g, mul);
}
void GatherPositionBase(float* out, const float* w, const float* src, const Shape& s, int64_t p, int64_t g, float mul) {
  GatherPosition(out, w, src, s, p, g, mul);
}
LEANLM_TARGET_AVX2 void ScoresAndDqAvx2(float* dq, float* ds, float* dp, const float* dout, const float* k,
                                        const float* v, int64_t kv_stride, const float* probs, const Shape& s,
                                        int64_t i, int64_t g) {
  ScoresAndDq(dq, ds, dp, dout, k, v, kv_stride, probs, s, i, g);
}
void ScoresAndDqBase(float* dq, float* ds, float* dp, const float* dout, const float* k, const float* v,
                     int64_t kv_stride, const float* probs, const Shape& s, int64_t i, int64_t g) {
  ScoresAndDq(dq, ds, dp, dout, k, v, kv_stride, probs, s, i, g);
}

// Runs fn(item) for item in [0, items) on every thread of the pool, items
// claimed in order from a shared counter (callers put the longest first).
template <typename Fn>
void ForEachItem(ThreadPool& pool, int64_t items, const Fn& fn) {
  std::atomic<int64_t> next{0};
  RunTasks(pool, pool.size(), [&](int task) {
    for (;;) {
      const int64_t item = next.fetch_add(1, std::memory_order_relaxed);
      if (item >= items) break;
      fn(task, item);
    }
  });
}

}  // namespace

void AttentionBackward(float* dq, const KvGradView& dkv, float* dscores, const float* dout, const float* q,
                       const KvView& kv, const float* probs, int64_t n, int64_t pos0, const AttentionDims& dims,
                       ThreadPool& pool) {
  LEANLM_CHECK(dims.n_head_kv > 0 && dims.n_head % dims.n_head_kv == 0 && n > 0 && pos0 >= 0);
  const Shape s{n,
                pos0,
                pos0 + n,
                dims.n_head,
                dims.n_head_kv,
                dims.n_head / dims.n_head_kv,
                dims.head_dim,
                1.0f / std::sqrt(static_cast<float>(dims.head_dim))};
  const bool avx2 = vec::UseAvx2();
  const auto gather = avx2 ? GatherPositionAvx2 : GatherPositionBase;
  const auto scores = avx2 ? ScoresAndDqAvx2 : ScoresAndDqBase;
  // Position p is seen by n - max(0, p - pos0) queries: early positions first.
  const int64_t pos_items = s.n_kv * s.n_head_kv;
  ForEachItem(pool, pos_items, [&](int, int64_t item) {
    const int64_t p = item / s.n_head_kv, g = item % s.n_head_kv;
    gather(dkv.dv + g * dkv.head_stride + p * dkv.pos_stride, probs, dout, s, p, g, 1.0f);
  });
  // Query i sees pos0 + i + 1 positions: late queries first.
  ForEachItem(pool, n * s.n_head_kv, [&](int task, int64_t item) {
    const int64_t i = n - 1 - item / s.n_head_kv, g = item % s.n_head_kv;
    auto* dp = static_cast<float*>(pool.Scratch(task, static_cast<size_t>(s.n_kv) * sizeof(float)));
    scores(dq, dscores, dp, dout, kv.k + g * kv.head_stride, kv.v + g * kv.head_stride, kv.pos_stride, probs, s, i, g);
  });
  ForEachItem(pool, pos_items, [&](int, int64_t item) {
    const int64_t p = item / s.n_head_kv, g = item % s.n_head_kv;
    gather(dkv.dk + g * dkv.head_stride + p * dkv.pos_stride, dscores, q, s, p, g, s.scale);
  });
}

}  // namespace leanlm
