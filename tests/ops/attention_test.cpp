// Attention against an explicit float64 softmax(q kᵀ / sqrt(d)) v with a
// causal mask and grouped-query heads.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "ops/attention.h"

namespace leanlm {
namespace {

struct Case {
  int64_t n_head, n_head_kv, head_dim, n, pos0;
  int threads;
};

class AttentionTest : public ::testing::TestWithParam<Case> {};

TEST_P(AttentionTest, MatchesExplicitSoftmax) {
  const Case p = GetParam();
  const int64_t n_kv = p.pos0 + p.n, kv_dim = p.n_head_kv * p.head_dim, q_dim = p.n_head * p.head_dim;
  std::mt19937 rng(static_cast<uint32_t>(p.n * 131 + p.pos0));
  std::normal_distribution<float> normal(0.0f, 1.5f);
  std::vector<float> q(static_cast<size_t>(p.n * q_dim)), k(static_cast<size_t>(n_kv * kv_dim)),
      v(static_cast<size_t>(n_kv * kv_dim));
  for (auto* buf : {&q, &k, &v}) {
    for (float& x : *buf) x = normal(rng);
  }

  // The same keys and values head-major, in a cache longer than needed.
  const int64_t n_ctx = n_kv + 5;
  std::vector<float> kh(static_cast<size_t>(p.n_head_kv * n_ctx * p.head_dim), NAN), vh(kh);
  for (int64_t t = 0; t < n_kv; ++t) {
    for (int64_t g = 0; g < p.n_head_kv; ++g) {
      for (int64_t d = 0; d < p.head_dim; ++d) {
        kh[static_cast<size_t>((g * n_ctx + t) * p.head_dim + d)] = k[static_cast<size_t>(t * kv_dim + g * p.head_dim + d)];
        vh[static_cast<size_t>((g * n_ctx + t) * p.head_dim + d)] = v[static_cast<size_t>(t * kv_dim + g * p.head_dim + d)];
      }
    }
  }
  const KvView token_major{k.data(), v.data(), kv_dim, p.head_dim};
  const KvView head_major{kh.data(), vh.data(), p.head_dim, n_ctx * p.head_dim};

  ThreadPool pool(p.threads);
  std::vector<float> out(q.size(), -1.0f), probs(static_cast<size_t>(p.n * p.n_head * n_kv), -1.0f);
  const AttentionDims dims{p.n_head, p.n_head_kv, p.head_dim};
  AttentionForward(out.data(), probs.data(), q.data(), token_major, p.n, p.pos0, dims, pool);
  std::vector<float> out_no_probs(q.size());
  AttentionForward(out_no_probs.data(), nullptr, q.data(), head_major, p.n, p.pos0, dims, pool);

  const int64_t group = p.n_head / p.n_head_kv;
  for (int64_t i = 0; i < p.n; ++i) {
    for (int64_t h = 0; h < p.n_head; ++h) {
      const float* qh = q.data() + (i * p.n_head + h) * p.head_dim;
      const int64_t kvh = h / group, len = p.pos0 + i + 1;
      std::vector<double> s(static_cast<size_t>(len));
      double max = -1e300, sum = 0;
      for (int64_t t = 0; t < len; ++t) {
        double dot = 0;
        for (int64_t d = 0; d < p.head_dim; ++d) dot += double{qh[d]} * k[static_cast<size_t>(t * kv_dim + kvh * p.head_dim + d)];
        s[static_cast<size_t>(t)] = dot / std::sqrt(static_cast<double>(p.head_dim));
        max = std::max(max, s[static_cast<size_t>(t)]);
      }
      for (double& x : s) sum += (x = std::exp(x - max));
      const float* row = probs.data() + (i * p.n_head + h) * n_kv;
      for (int64_t t = 0; t < n_kv; ++t) {
        const double want = t < len ? s[static_cast<size_t>(t)] / sum : 0.0;
        EXPECT_NEAR(row[t], want, 1e-6) << "prob, query " << i << " head " << h << " key " << t;
      }
      for (int64_t d = 0; d < p.head_dim; ++d) {
        double want = 0;
        for (int64_t t = 0; t < len; ++t) {
          want += s[static_cast<size_t>(t)] / sum * v[static_cast<size_t>(t * kv_dim + kvh * p.head_dim + d)];
        }
        const size_t at = static_cast<size_t>((i * p.n_head + h) * p.head_dim + d);
        EXPECT_NEAR(out[at], want, 1e-5) << "query " << i << " head " << h << " dim " << d;
        EXPECT_EQ(out[at], out_no_probs[at]);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionTest,
    ::testing::Values(Case{4, 4, 16, 1, 0, 1},     // first token
                      Case{4, 2, 16, 1, 37, 2},    // decode with a cache, GQA
                      Case{8, 2, 64, 13, 0, 3},    // prompt, GQA
                      Case{6, 1, 12, 9, 20, 2},    // MQA, chunk after a cache, head_dim not a multiple of 8
                      Case{2, 2, 128, 40, 5, 4}));  // long rows, more threads than cores

}  // namespace
}  // namespace leanlm
