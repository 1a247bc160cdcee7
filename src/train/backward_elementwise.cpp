// Backward passes of the row-wise and element-wise ops: embedding, RMSNorm,
// RoPE, softmax, gated activations, additions.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/parallel.h"
#include "ops/vec.h"
#include "train/backward.h"

namespace leanlm {

void EmbeddingBackward(float* dtable, const float* dout, const int32_t* tokens, int64_t n, int64_t dim, float scale,
                       const int32_t* row_map) {
  for (int64_t i = 0; i < n; ++i) {
    LEANLM_CHECK(tokens[i] >= 0);
    const int64_t row = row_map != nullptr ? row_map[tokens[i]] : tokens[i];
    if (row < 0) continue;
    vec::Axpy(dtable + row * dim, scale, dout + i * dim, dim);
  }
}

namespace {

// dx_j (=|+=) r w_j dy_j - x_j r³/dim Σ_k w_k dy_k x_k: the direct term and
// the term through rstd's dependence on every element of the row.
[[gnu::always_inline]] inline void RmsNormRowBackward(float* __restrict dx, const float* __restrict dy,
                                                      const float* __restrict x, const float* __restrict w, float r,
                                                      int64_t dim, bool accumulate) {
  float acc[vec::kBlock] = {};
  int64_t j = 0;
  for (; j + vec::kBlock <= dim; j += vec::kBlock) {
    for (int64_t b = 0; b < vec::kBlock; ++b) acc[b] += w[j + b] * dy[j + b] * x[j + b];
  }
  float s = 0;
  for (; j < dim; ++j) s += w[j] * dy[j] * x[j];
  for (int64_t b = 0; b < vec::kBlock; ++b) s += acc[b];
  const float c = -r * r * r * s / static_cast<float>(dim);
  // Written, not scaled by 0, when not accumulating: dx may hold garbage.
  if (accumulate) {
    for (j = 0; j + vec::kBlock <= dim; j += vec::kBlock) {
      for (int64_t b = 0; b < vec::kBlock; ++b) dx[j + b] += r * w[j + b] * dy[j + b] + c * x[j + b];
    }
    for (; j < dim; ++j) dx[j] += r * w[j] * dy[j] + c * x[j];
  } else {
    for (j = 0; j + vec::kBlock <= dim; j += vec::kBlock) {
      for (int64_t b = 0; b < vec::kBlock; ++b) dx[j + b] = r * w[j + b] * dy[j + b] + c * x[j + b];
    }
    for (; j < dim; ++j) dx[j] = r * w[j] * dy[j] + c * x[j];
  }
}

LEANLM_TARGET_AVX2 void RmsNormRowBackwardAvx2(float* dx, const float* dy, const float* x, const float* w, float r,
                                               int64_t dim, bool accumulate) {
  RmsNormRowBackward(dx, dy, x, w, r, dim, accumulate);
}
void RmsNormRowBackwardBase(float* dx, const float* dy, const float* x, const float* w, float r, int64_t dim,
                            bool accumulate) {
  RmsNormRowBackward(dx, dy, x, w, r, dim, accumulate);
}

}  // namespace

void RmsNormBackward(float* dx, float* dweight, const float* dout, const float* x, const float* weight,
                     const float* rstd, int64_t n, int64_t dim, bool accumulate, ThreadPool& pool) {
  const auto row_backward = vec::UseAvx2() ? RmsNormRowBackwardAvx2 : RmsNormRowBackwardBase;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(dim, 1));
  ParallelFor(pool, n, grain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      row_backward(dx + i * dim, dout + i * dim, x + i * dim, weight, rstd[i], dim, accumulate);
    }
  });
  if (dweight == nullptr) return;
  // Columns split across threads, rows summed in order: one writer per
  // element and a result independent of the thread count.
  const int64_t col_grain = std::max<int64_t>(64, 16384 / std::max<int64_t>(n, 1));
  ParallelFor(pool, dim, col_grain, [&](int64_t begin, int64_t end) {
    for (int64_t i = 0; i < n; ++i) {
      const float* dy = dout + i * dim;
      const float* xi = x + i * dim;
      const float r = rstd[i];
      for (int64_t j = begin; j < end; ++j) dweight[j] += dy[j] * xi[j] * r;
    }
  });
}

namespace {

// (a, b) <- (a cos + b sin, -a sin + b cos): the inverse of the forward's turn.
[[gnu::always_inline]] inline void UnrotateHalves(float* __restrict a, float* __restrict b, const float* __restrict c,
                                                  const float* __restrict s, int64_t half) {
  for (int64_t i = 0; i < half; ++i) {
    const float a0 = a[i], b0 = b[i];
    a[i] = a0 * c[i] + b0 * s[i];
    b[i] = b0 * c[i] - a0 * s[i];
  }
}

LEANLM_TARGET_AVX2 void UnrotateHalvesAvx2(float* a, float* b, const float* c, const float* s, int64_t half) {
  UnrotateHalves(a, b, c, s, half);
}
void UnrotateHalvesBase(float* a, float* b, const float* c, const float* s, int64_t half) {
  UnrotateHalves(a, b, c, s, half);
}

void UnrotateAdjacent(float* __restrict x, const float* __restrict c, const float* __restrict s, int64_t half) {
  for (int64_t i = 0; i < half; ++i) {
    const float a0 = x[2 * i], b0 = x[2 * i + 1];
    x[2 * i] = a0 * c[i] + b0 * s[i];
    x[2 * i + 1] = b0 * c[i] - a0 * s[i];
  }
}

}  // namespace

void RopeBackward(float* dx, const float* cs, int64_t n, int64_t n_heads, int64_t head_dim, int64_t rotary_dim,
                  bool neox, ThreadPool& pool) {
  const int64_t half = rotary_dim / 2;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(n_heads * head_dim, 1));
  const auto unrotate_halves = vec::UseAvx2() ? UnrotateHalvesAvx2 : UnrotateHalvesBase;
  ParallelFor(pool, n, grain, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const float* c = cs + t * 2 * half;
      const float* s = c + half;
      for (int64_t h = 0; h < n_heads; ++h) {
        float* xh = dx + (t * n_heads + h) * head_dim;
        if (neox) {
          unrotate_halves(xh, xh + half, c, s, half);
        } else {
          UnrotateAdjacent(xh, c, s, half);
        }
      }
    }
  });
}

void SoftmaxBackward(float* dx, const float* y, const float* dy, int64_t n) {
  const float dot = vec::Dot(y, dy, n);
  for (int64_t i = 0; i < n; ++i) dx[i] = y[i] * (dy[i] - dot);
}

namespace {

inline float Sigmoid(float z) { return 1.0f / (1.0f + vec::Exp(-z)); }

// act(g) and act'(g), with the forward's formulas (ops/activation.cpp).
struct SiluGrad {
  static void Eval(float g, float* act, float* dact) {
    const float s = Sigmoid(g);
    *act = g * s;
    *dact = s * (1.0f + g * (1.0f - s));
  }
};
// x σ(2u), u = sqrt(2/pi) (x + 0.044715 x³):
// act' = σ(2u) + x σ(2u) (1 - σ(2u)) · 2 sqrt(2/pi) (1 + 3 · 0.044715 x²).
struct GeluTanhGrad {
  static void Eval(float g, float* act, float* dact) {
    constexpr float kC = 0.7978845608028654f, kA = 0.044715f;
    const float s = Sigmoid(2.0f * kC * (g + kA * g * g * g));
    *act = g * s;
    *dact = s + g * s * (1.0f - s) * 2.0f * kC * (1.0f + 3.0f * kA * g * g);
  }
};

template <class Grad>
[[gnu::always_inline]] inline void GatedBackward(float* dgate, float* dup, const float* dout, const float* gate,
                                                 const float* up, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    float act, dact;
    Grad::Eval(gate[i], &act, &dact);
    const float d = dout[i];
    const float u = up[i];
    dgate[i] = d * u * dact;
    dup[i] = d * act;
  }
}

template <class Grad>
LEANLM_TARGET_AVX2 void GatedBackwardAvx2(float* dgate, float* dup, const float* dout, const float* gate,
                                          const float* up, int64_t begin, int64_t end) {
  GatedBackward<Grad>(dgate, dup, dout, gate, up, begin, end);
}
template <class Grad>
void GatedBackwardBase(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int64_t begin,
                       int64_t end) {
  GatedBackward<Grad>(dgate, dup, dout, gate, up, begin, end);
}

}  // namespace

void GatedActivationBackward(float* dgate, float* dup, const float* dout, const float* gate, const float* up,
                             int64_t count, Activation act, ThreadPool& pool) {
  const bool avx2 = vec::UseAvx2();
  const auto fn = act == Activation::kSilu ? (avx2 ? GatedBackwardAvx2<SiluGrad> : GatedBackwardBase<SiluGrad>)
                                           : (avx2 ? GatedBackwardAvx2<GeluTanhGrad> : GatedBackwardBase<GeluTanhGrad>);
  ParallelFor(pool, count, 4096, [&](int64_t begin, int64_t end) { fn(dgate, dup, dout, gate, up, begin, end); });
}

void AddBackward(float* dx, const float* dy, int64_t count) { vec::Axpy(dx, 1.0f, dy, count); }

void BiasBackward(float* dbias, const float* dy, int64_t n, int64_t m) {
  for (int64_t i = 0; i < n; ++i) vec::Axpy(dbias, 1.0f, dy + i * m, m);
}

}  // namespace leanlm
