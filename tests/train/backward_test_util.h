// Gradient checking for the backward tests. The scheme, per op:
//   1. a float64 reference forward, written here from the formulas, agrees
//      with the library's float forward op on the same inputs (so what is
//      differentiated below is the forward the model runs);
//   2. central finite differences of a float64 scalar loss
//      L = Σ dout ⊙ forward(inputs), dout random, give the gradient of every
//      input element (step 1e-5: truncation ~1e-10, rounding ~1e-11);
//   3. the library's float backward agrees with those float64 gradients to a
//      tolerance relative to the largest gradient. A sign error in any one
//      term moves the result by O(1) of that scale; the tests also show it.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace leanlm::testing_backward {

inline std::vector<float> RandomVec(size_t n, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

inline std::vector<double> ToDouble(const std::vector<float>& v) { return {v.begin(), v.end()}; }

inline double Dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Central differences of loss() with respect to every element of x, which
// loss() reads (x is restored afterwards).
inline std::vector<double> NumericGrad(std::vector<double>& x, const std::function<double()>& loss,
                                       double step = 1e-5) {
  std::vector<double> g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    x[i] = x0 + step;
    const double up = loss();
    x[i] = x0 - step;
    const double down = loss();
    x[i] = x0;
    g[i] = (up - down) / (2 * step);
  }
  return g;
}

// max_i |got_i - want_i| / max_i |want_i|: the error relative to the
// gradient's scale (0 when both are 0).
template <typename A, typename B>
double RelError(const std::vector<A>& got, const std::vector<B>& want) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    diff = std::max(diff, std::fabs(static_cast<double>(got[i]) - static_cast<double>(want[i])));
    scale = std::max(scale, std::fabs(static_cast<double>(want[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

// Also fails if want is all zeros (a test whose gradient vanishes checks nothing).
template <typename A, typename B>
void ExpectClose(const std::vector<A>& got, const std::vector<B>& want, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 0;
  for (const B& w : want) scale = std::max(scale, std::fabs(static_cast<double>(w)));
  EXPECT_GT(scale, 1e-6) << what << ": the reference gradient vanishes";
  EXPECT_LT(RelError(got, want), tol) << what;
}

}  // namespace leanlm::testing_backward
