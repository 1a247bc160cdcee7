// Backward of embedding, RMSNorm, RoPE, softmax, gated activations and the
// additions against float64 finite differences of float64 reference forwards
// (see backward_test_util.h), each reference checked against the real op.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "backward_test_util.h"
#include "base/dtype.h"
#include "ops/activation.h"
#include "ops/embedding.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"
#include "ops/softmax.h"
#include "train/backward.h"

namespace leanlm {
namespace {

using namespace testing_backward;

// --- RMSNorm ---

std::vector<double> RmsNormRef(const std::vector<double>& x, const std::vector<double>& w, int64_t n, int64_t dim,
                               double eps) {
  std::vector<double> y(x.size());
  for (int64_t i = 0; i < n; ++i) {
    double ss = 0;
    for (int64_t j = 0; j < dim; ++j) ss += x[i * dim + j] * x[i * dim + j];
    const double r = 1 / std::sqrt(ss / static_cast<double>(dim) + eps);
    for (int64_t j = 0; j < dim; ++j) y[i * dim + j] = x[i * dim + j] * r * w[j];
  }
  return y;
}

class RmsNormBackwardTest : public ::testing::TestWithParam<int64_t> {};

TEST_P(RmsNormBackwardTest, MatchesFiniteDifferences) {
  const int64_t n = 3, dim = GetParam();
  const float eps = 1e-5f;
  ThreadPool pool(2);
  const auto xf = RandomVec(n * dim, 1.0f, 1), wf = RandomVec(dim, 1.0f, 2), doutf = RandomVec(n * dim, 1.0f, 3);
  std::vector<float> y(n * dim), rstd(n);
  RmsNormForward(y.data(), rstd.data(), xf.data(), wf.data(), n, dim, eps, pool);
  std::vector<double> x = ToDouble(xf), w = ToDouble(wf), dout = ToDouble(doutf);
  ExpectClose(y, RmsNormRef(x, w, n, dim, eps), 1e-6, "forward");

  auto loss = [&] { return Dot(dout, RmsNormRef(x, w, n, dim, eps)); };
  const auto dx_fd = NumericGrad(x, loss), dw_fd = NumericGrad(w, loss);

  std::vector<float> dx(n * dim, 1e30f), dw(dim, 0.0f);  // dx is written over, whatever it held
  RmsNormBackward(dx.data(), dw.data(), doutf.data(), xf.data(), wf.data(), rstd.data(), n, dim, false, pool);
  ExpectClose(dx, dx_fd, 1e-5, "dx");
  ExpectClose(dw, dw_fd, 1e-5, "dweight");

  // accumulate: dx += and dweight += on top of what they held.
  std::vector<float> dx2(n * dim, 0.5f), dw2(dim, 0.25f);
  RmsNormBackward(dx2.data(), dw2.data(), doutf.data(), xf.data(), wf.data(), rstd.data(), n, dim, true, pool);
  for (auto& v : dx2) v -= 0.5f;
  for (auto& v : dw2) v -= 0.25f;
  ExpectClose(dx2, dx_fd, 1e-5, "dx accumulated");
  ExpectClose(dw2, dw_fd, 1e-5, "dweight accumulated");

  // Frozen weight: no dweight, same dx.
  std::vector<float> dx3(n * dim);
  RmsNormBackward(dx3.data(), nullptr, doutf.data(), xf.data(), wf.data(), rstd.data(), n, dim, false, pool);
  EXPECT_EQ(dx3, dx);

  // The check is sharp: dx without the term through rstd (or with its sign
  // flipped) is far outside the tolerance.
  std::vector<double> wrong(n * dim);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < dim; ++j) wrong[i * dim + j] = rstd[i] * wf[j] * doutf[i * dim + j];
  }
  EXPECT_GT(RelError(wrong, dx_fd), 1e-2);
}

// (dim 1 is degenerate: y = ±w up to eps, and dx is a float cancellation.)
INSTANTIATE_TEST_SUITE_P(Dims, RmsNormBackwardTest, ::testing::Values(7, 37, 64, 130));

// --- RoPE ---

std::vector<double> RopeRef(const std::vector<double>& x, const std::vector<double>& inv_freq, int64_t pos0, int64_t n,
                            int64_t heads, int64_t head_dim, int64_t rot, bool neox) {
  std::vector<double> y = x;
  const int64_t half = rot / 2;
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t base = (t * heads + h) * head_dim;
      for (int64_t i = 0; i < half; ++i) {
        const double angle = static_cast<double>(pos0 + t) * inv_freq[static_cast<size_t>(i)];
        const int64_t ia = base + (neox ? i : 2 * i), ib = base + (neox ? i + half : 2 * i + 1);
        y[ia] = x[ia] * std::cos(angle) - x[ib] * std::sin(angle);
        y[ib] = x[ia] * std::sin(angle) + x[ib] * std::cos(angle);
      }
    }
  }
  return y;
}

struct RopeCase {
  bool neox;
  int64_t rope_dim;  // 0 = head_dim
  RopeScaling scaling;
  bool freq_factors;
};

class RopeBackwardTest : public ::testing::TestWithParam<RopeCase> {};

TEST_P(RopeBackwardTest, MatchesFiniteDifferences) {
  const RopeCase rc = GetParam();
  ModelConfig config;
  config.head_dim = 16;
  config.rope_dim = rc.rope_dim;
  config.rope_neox = rc.neox;
  config.rope_theta = 500000.0f;
  config.rope_scaling = rc.scaling;
  config.rope_factor = 8.0f;
  config.rope_orig_ctx = 64;  // makes the llama3 bands cover this head's frequencies
  const int64_t n = 4, heads = 3, hd = config.head_dim, rot = config.rotary_dim(), pos0 = 5;
  const auto factors = RandomVec(static_cast<size_t>(rot / 2), 0.2f, 9);
  std::vector<float> ff(factors.size());
  for (size_t i = 0; i < ff.size(); ++i) ff[i] = 1.0f + std::fabs(factors[i]);
  const std::vector<double> inv_freq = RopeInvFreq(config, rc.freq_factors ? ff.data() : nullptr);
  ThreadPool pool(2);
  std::vector<float> cs(static_cast<size_t>(n * rot));
  RopeCosSin(cs.data(), inv_freq, pos0, n);

  const auto xf = RandomVec(n * heads * hd, 1.0f, 4), doutf = RandomVec(n * heads * hd, 1.0f, 5);
  std::vector<float> y = xf;
  RopeForward(y.data(), cs.data(), n, heads, hd, rot, rc.neox, pool);
  std::vector<double> x = ToDouble(xf), dout = ToDouble(doutf);
  ExpectClose(y, RopeRef(x, inv_freq, pos0, n, heads, hd, rot, rc.neox), 1e-5, "forward");

  const auto dx_fd = NumericGrad(x, [&] { return Dot(dout, RopeRef(x, inv_freq, pos0, n, heads, hd, rot, rc.neox)); });
  std::vector<float> dx = doutf;
  RopeBackward(dx.data(), cs.data(), n, heads, hd, rot, rc.neox, pool);
  ExpectClose(dx, dx_fd, 1e-5, "dx");
  // The other layout's inverse is a different map: the test tells them apart.
  std::vector<float> other = doutf;
  RopeBackward(other.data(), cs.data(), n, heads, hd, rot, !rc.neox, pool);
  EXPECT_GT(RelError(other, dx_fd), 1e-2);
  // Rotating forward instead of back (the sign of the sine) is caught too.
  std::vector<float> forward_turn = doutf;
  RopeForward(forward_turn.data(), cs.data(), n, heads, hd, rot, rc.neox, pool);
  EXPECT_GT(RelError(forward_turn, dx_fd), 1e-2);
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, RopeBackwardTest,
    ::testing::Values(RopeCase{false, 0, RopeScaling::kNone, false}, RopeCase{true, 0, RopeScaling::kNone, false},
                      RopeCase{true, 8, RopeScaling::kLinear, false}, RopeCase{false, 8, RopeScaling::kNone, true},
                      RopeCase{true, 0, RopeScaling::kLlama3, true}, RopeCase{false, 0, RopeScaling::kLlama3, false}));

// --- Gated activations ---

double ActRef(double g, Activation act) {
  if (act == Activation::kSilu) return g / (1 + std::exp(-g));
  constexpr double kC = 0.7978845608028654;
  return 0.5 * g * (1 + std::tanh(kC * (g + 0.044715 * g * g * g)));
}

class GatedBackwardTest : public ::testing::TestWithParam<Activation> {};

TEST_P(GatedBackwardTest, MatchesFiniteDifferences) {
  const Activation act = GetParam();
  const int64_t count = 301;
  ThreadPool pool(2);
  const auto gf = RandomVec(count, 2.0f, 6), uf = RandomVec(count, 1.0f, 7), doutf = RandomVec(count, 1.0f, 8);
  std::vector<double> g = ToDouble(gf), u = ToDouble(uf), dout = ToDouble(doutf);
  auto ref = [&] {
    std::vector<double> y(count);
    for (int64_t i = 0; i < count; ++i) y[i] = ActRef(g[i], act) * u[i];
    return y;
  };
  std::vector<float> y(count);
  GatedActivationForward(y.data(), gf.data(), uf.data(), count, act, pool);
  ExpectClose(y, ref(), 1e-6, "forward");

  const auto dg_fd = NumericGrad(g, [&] { return Dot(dout, ref()); });
  const auto du_fd = NumericGrad(u, [&] { return Dot(dout, ref()); });
  std::vector<float> dg(count), du(count);
  GatedActivationBackward(dg.data(), du.data(), doutf.data(), gf.data(), uf.data(), count, act, pool);
  ExpectClose(dg, dg_fd, 1e-5, "dgate");
  ExpectClose(du, du_fd, 1e-5, "dup");

  // dgate may be dout itself.
  std::vector<float> inplace = doutf, du2(count);
  GatedActivationBackward(inplace.data(), du2.data(), inplace.data(), gf.data(), uf.data(), count, act, pool);
  EXPECT_EQ(inplace, dg);
  EXPECT_EQ(du2, du);
}

INSTANTIATE_TEST_SUITE_P(Acts, GatedBackwardTest, ::testing::Values(Activation::kSilu, Activation::kGeluTanh));

TEST(GatedBackward, GeluDerivativeTermIsChecked) {
  // GELU's derivative without the x σ'(2u) term (a plausible slip) fails.
  const auto gf = RandomVec(50, 2.0f, 10);
  std::vector<double> g = ToDouble(gf);
  std::vector<double> wrong(g.size());
  for (size_t i = 0; i < g.size(); ++i) wrong[i] = ActRef(g[i], Activation::kGeluTanh) / g[i];  // σ(2u) alone
  const auto d_fd = NumericGrad(g, [&] {
    double s = 0;
    for (double v : g) s += ActRef(v, Activation::kGeluTanh);
    return s;
  });
  EXPECT_GT(RelError(wrong, d_fd), 1e-2);
}

// --- Softmax ---

TEST(SoftmaxBackward, MatchesFiniteDifferences) {
  const int64_t n = 19;
  const auto xf = RandomVec(n, 2.0f, 11), dyf = RandomVec(n, 1.0f, 12);
  std::vector<double> x = ToDouble(xf), dy = ToDouble(dyf);
  auto ref = [&] {
    double max = x[0], sum = 0;
    for (double v : x) max = std::max(max, v);
    std::vector<double> y(n);
    for (int64_t i = 0; i < n; ++i) sum += (y[i] = std::exp(x[i] - max));
    for (double& v : y) v /= sum;
    return y;
  };
  std::vector<float> y = xf;
  SoftmaxForward(y.data(), n);
  ExpectClose(y, ref(), 1e-6, "forward");
  const auto dx_fd = NumericGrad(x, [&] { return Dot(dy, ref()); });
  std::vector<float> dx = dyf;
  SoftmaxBackward(dx.data(), y.data(), dx.data(), n);  // in place
  ExpectClose(dx, dx_fd, 1e-5, "dx");
}

// --- Embedding ---

TEST(EmbeddingBackward, MatchesFiniteDifferencesAndRowMap) {
  const int64_t vocab = 7, dim = 5, n = 6;
  const float scale = 1.7f;
  const std::vector<int32_t> tokens = {3, 1, 3, 6, 0, 3};  // repeats accumulate
  const auto tf = RandomVec(vocab * dim, 1.0f, 13), doutf = RandomVec(n * dim, 1.0f, 14);
  std::vector<double> table = ToDouble(tf), dout = ToDouble(doutf);
  auto ref = [&] {
    std::vector<double> y(n * dim);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < dim; ++j) y[i * dim + j] = scale * table[tokens[i] * dim + j];
    }
    return y;
  };
  TensorView view;
  view.data = tf.data();
  view.n_dims = 2;
  view.ne = {dim, vocab, 1, 1};
  std::vector<float> y(n * dim);
  EmbeddingForward(y.data(), view, tokens.data(), n, scale);
  ExpectClose(y, ref(), 1e-6, "forward");
  const auto fd = NumericGrad(table, [&] { return Dot(dout, ref()); });

  std::vector<float> dtable(vocab * dim, 0.0f);
  EmbeddingBackward(dtable.data(), doutf.data(), tokens.data(), n, dim, scale, nullptr);
  ExpectClose(dtable, fd, 1e-6, "dtable");

  // A compact table of the trainable rows 6 and 3 (in that order).
  const std::vector<int32_t> row_map = {-1, -1, -1, 1, -1, -1, 0};
  std::vector<float> compact(2 * dim, 0.0f);
  EmbeddingBackward(compact.data(), doutf.data(), tokens.data(), n, dim, scale, row_map.data());
  for (int64_t j = 0; j < dim; ++j) {
    EXPECT_NEAR(compact[j], fd[6 * dim + j], 1e-5);
    EXPECT_NEAR(compact[dim + j], fd[3 * dim + j], 1e-5);
  }
}

// --- Additions ---

TEST(AddBackward, ResidualAndBias) {
  const int64_t n = 4, m = 11;
  const auto dyf = RandomVec(n * m, 1.0f, 15);
  std::vector<float> dx(n * m, 1.0f);
  AddBackward(dx.data(), dyf.data(), n * m);
  for (int64_t i = 0; i < n * m; ++i) EXPECT_FLOAT_EQ(dx[i], 1.0f + dyf[i]);
  // y = x + bias per row: dbias = Σ_rows dy (FD of the reference).
  std::vector<double> bias(m, 0.3), dy = ToDouble(dyf);
  const auto fd = NumericGrad(bias, [&] {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < m; ++j) s += dy[i * m + j] * (1.0 + bias[j]);
    }
    return s;
  });
  std::vector<float> dbias(m, 0.0f);
  BiasBackward(dbias.data(), dyf.data(), n, m);
  ExpectClose(dbias, fd, 1e-6, "dbias");
}

}  // namespace
}  // namespace leanlm
