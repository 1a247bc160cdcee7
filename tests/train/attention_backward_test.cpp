// Attention backward (MHA, GQA, MQA, with and without earlier positions)
// against float64 finite differences of a float64 reference attention, which
// is itself checked against AttentionForward.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "backward_test_util.h"
#include "ops/attention.h"
#include "train/backward.h"

namespace leanlm {
namespace {

using namespace testing_backward;

// q: (n, H, hd); k, v: (n_kv, Hkv, hd) token-major; out: (n, H, hd).
std::vector<double> AttentionRef(const std::vector<double>& q, const std::vector<double>& k,
                                 const std::vector<double>& v, int64_t n, int64_t pos0, const AttentionDims& d) {
  const int64_t hd = d.head_dim, group = d.n_head / d.n_head_kv, n_kv = pos0 + n;
  std::vector<double> out(static_cast<size_t>(n * d.n_head * hd), 0.0), s(static_cast<size_t>(n_kv));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t h = 0; h < d.n_head; ++h) {
      const int64_t g = h / group, len = pos0 + i + 1;
      const double* qi = &q[(i * d.n_head + h) * hd];
      double max = -1e300, sum = 0;
      for (int64_t p = 0; p < len; ++p) {
        double dot = 0;
        for (int64_t e = 0; e < hd; ++e) dot += qi[e] * k[(p * d.n_head_kv + g) * hd + e];
        s[p] = dot / std::sqrt(static_cast<double>(hd));
        max = std::max(max, s[p]);
      }
      for (int64_t p = 0; p < len; ++p) sum += (s[p] = std::exp(s[p] - max));
      for (int64_t p = 0; p < len; ++p) {
        for (int64_t e = 0; e < hd; ++e)
          out[(i * d.n_head + h) * hd + e] += s[p] / sum * v[(p * d.n_head_kv + g) * hd + e];
      }
    }
  }
  return out;
}

struct AttnCase {
  int64_t n_head, n_head_kv, n, pos0;
  bool head_major_grads;  // dk, dv in a (Hkv, n_kv, hd) layout instead of token-major
};

class AttentionBackwardTest : public ::testing::TestWithParam<AttnCase> {};

TEST_P(AttentionBackwardTest, MatchesFiniteDifferences) {
  const AttnCase c = GetParam();
  const AttentionDims dims{c.n_head, c.n_head_kv, 8};
  const int64_t hd = dims.head_dim, n = c.n, n_kv = c.pos0 + n;
  const size_t q_size = static_cast<size_t>(n * c.n_head * hd), kv_size = static_cast<size_t>(n_kv * c.n_head_kv * hd);
  const auto qf = RandomVec(q_size, 1.0f, 21), kf = RandomVec(kv_size, 1.0f, 22), vf = RandomVec(kv_size, 1.0f, 23);
  const auto doutf = RandomVec(q_size, 1.0f, 24);
  ThreadPool pool(3);

  const KvView kv{kf.data(), vf.data(), c.n_head_kv * hd, hd};
  std::vector<float> out(q_size), probs(static_cast<size_t>(n * c.n_head * n_kv));
  AttentionForward(out.data(), probs.data(), qf.data(), kv, n, c.pos0, dims, pool);
  std::vector<double> q = ToDouble(qf), k = ToDouble(kf), v = ToDouble(vf), dout = ToDouble(doutf);
  ExpectClose(out, AttentionRef(q, k, v, n, c.pos0, dims), 1e-5, "forward");

  auto loss = [&] { return Dot(dout, AttentionRef(q, k, v, n, c.pos0, dims)); };
  const auto dq_fd = NumericGrad(q, loss), dk_fd = NumericGrad(k, loss), dv_fd = NumericGrad(v, loss);

  std::vector<float> dq(q_size, 1e30f), dk(kv_size, 1e30f), dv(kv_size, 1e30f);  // written, not accumulated
  std::vector<float> dscores(probs.size(), 1e30f);
  KvGradView grads{dk.data(), dv.data(), c.n_head_kv * hd, hd};
  if (c.head_major_grads) grads = {dk.data(), dv.data(), hd, n_kv * hd};
  AttentionBackward(dq.data(), grads, dscores.data(), doutf.data(), qf.data(), kv, probs.data(), n, c.pos0, dims, pool);
  if (c.head_major_grads) {  // back to token-major for the comparison
    std::vector<float> tk(kv_size), tv(kv_size);
    for (int64_t g = 0; g < c.n_head_kv; ++g) {
      for (int64_t p = 0; p < n_kv; ++p) {
        for (int64_t e = 0; e < hd; ++e) {
          tk[(p * c.n_head_kv + g) * hd + e] = dk[(g * n_kv + p) * hd + e];
          tv[(p * c.n_head_kv + g) * hd + e] = dv[(g * n_kv + p) * hd + e];
        }
      }
    }
    dk = tk;
    dv = tv;
  }
  ExpectClose(dq, dq_fd, 2e-5, "dq");
  ExpectClose(dk, dk_fd, 2e-5, "dk");
  ExpectClose(dv, dv_fd, 2e-5, "dv");

  // dscores may be probs itself; the results are the same, bit for bit, and
  // so are they with one thread.
  std::vector<float> spent = probs, dq1(q_size), dk1(kv_size), dv1(kv_size);
  ThreadPool pool1(1);
  const KvGradView grads1{dk1.data(), dv1.data(), c.n_head_kv * hd, hd};
  AttentionBackward(dq1.data(), grads1, spent.data(), doutf.data(), qf.data(), kv, spent.data(), n, c.pos0, dims,
                    pool1);
  EXPECT_EQ(dq1, dq);
  if (!c.head_major_grads) {
    EXPECT_EQ(dk1, dk);
    EXPECT_EQ(dv1, dv);
  }
  EXPECT_EQ(spent, dscores);

  // Sharpness: the softmax's centring term (Σ P dP) left out of dq is caught.
  std::vector<double> wrong_dq(q_size, 0.0);
  const int64_t group = c.n_head / c.n_head_kv;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t h = 0; h < c.n_head; ++h) {
      const int64_t row = i * c.n_head + h, g = h / group;
      for (int64_t p = 0; p <= c.pos0 + i; ++p) {
        double dp = 0;
        for (int64_t e = 0; e < hd; ++e) dp += dout[row * hd + e] * v[(p * c.n_head_kv + g) * hd + e];
        for (int64_t e = 0; e < hd; ++e) {
          wrong_dq[row * hd + e] += probs[row * n_kv + p] * dp * k[(p * c.n_head_kv + g) * hd + e] / std::sqrt(8.0);
        }
      }
    }
  }
  EXPECT_GT(RelError(wrong_dq, dq_fd), 1e-2);
}

INSTANTIATE_TEST_SUITE_P(Heads, AttentionBackwardTest,
                         ::testing::Values(AttnCase{2, 2, 5, 0, false},  // MHA
                                           AttnCase{4, 2, 5, 0, false},  // GQA
                                           AttnCase{4, 1, 5, 0, false},  // MQA
                                           AttnCase{4, 2, 4, 3, false},  // earlier positions (prefix, cache)
                                           AttnCase{4, 2, 6, 2, true},   // head-major dk, dv
                                           AttnCase{3, 1, 1, 6, false}   // one query (decode-shaped)
                                           ));

}  // namespace
}  // namespace leanlm
