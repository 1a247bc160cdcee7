#include "train/llama_train_linear.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/matmul.h"
#include "ops/parallel.h"
#include "ops/vec.h"
#include "train/backward.h"

namespace leanlm {
namespace {

// splitmix64: a counter-based generator, so mask element i needs no state.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// out (count) = in ⊙ mask, mask = 0 or 1 / (1 - p) by the hash of (seed, i);
// in == nullptr gives the mask itself.
void ApplyDropout(float* out, const float* in, int64_t count, const DropoutKey& key) {
  const float keep_scale = 1.0f / (1.0f - key.p);
  const uint64_t base = Mix(key.seed);
  for (int64_t i = 0; i < count; ++i) {
    const double u = static_cast<double>(Mix(base + static_cast<uint64_t>(i)) >> 11) * 0x1.0p-53;
    out[i] = u < key.p ? 0.0f : (in != nullptr ? in[i] : 1.0f) * keep_scale;
  }
}

float* Sized(std::vector<float>& v, int64_t n) {
  v.resize(static_cast<size_t>(n));
  return v.data();
}

// row (in) = W[r] + s · Σ_j B[r][j] A[j]: row r of DoRA's V = W + s B A.
// row holds w.cols() floats: a padded W (see QuantizeBaseNf4) converts whole
// rows, whose tail past `in` is zero.
void VRow(const TensorView& w, const LoraModule& lora, int64_t r, float* row) {
  GetTypeTraits(w.type).to_float(w.row(r), row, w.cols());
  const float* a = lora.a->value.data();
  const float* b = lora.b->value.data() + r * lora.r;
  for (int64_t j = 0; j < lora.r; ++j) vec::Axpy(row, lora.scale * b[j], a + j * lora.in, lora.in);
}

// The gradient through DoRA's norm: with c_r = dL/d‖V_r‖ / ‖V_r‖ (cn),
// dV_r = c_r V_r, and V = W + s B A gives dB += s dV Aᵀ, dA += s Bᵀ dV.
// V is rebuilt in chunks of rows, so no (out, in) matrix is kept.
void DoraNormBackward(const TensorView& w, const LoraModule& lora, const std::vector<double>& cn, ThreadPool& pool) {
  constexpr int64_t kChunk = 64;
  const int64_t in = lora.in, rank = lora.r;
  std::vector<float> dv(static_cast<size_t>(kChunk * in)), dv_a(static_cast<size_t>(kChunk * rank));
  std::vector<float> b_rows(static_cast<size_t>(kChunk * rank));
  for (int64_t r0 = 0; r0 < lora.out; r0 += kChunk) {
    const int64_t rows = std::min(kChunk, lora.out - r0);
    ParallelFor(pool, rows, 4, [&](int64_t begin, int64_t end) {
      std::vector<float> v(static_cast<size_t>(w.cols()));
      for (int64_t i = begin; i < end; ++i) {
        VRow(w, lora, r0 + i, v.data());
        const float c = static_cast<float>(cn[static_cast<size_t>(r0 + i)]) * lora.scale;
        for (int64_t j = 0; j < in; ++j) dv[static_cast<size_t>(i * in + j)] = c * v[static_cast<size_t>(j)];
      }
    });
    // dB rows r0.. += (s c_r V_r) · Aᵀ
    MatMul(lora.a->view(), dv.data(), rows, dv_a.data(), pool);
    float* db = lora.b->grad.data() + r0 * rank;
    for (int64_t i = 0; i < rows * rank; ++i) db[i] += dv_a[static_cast<size_t>(i)];
    // dA += B[rows]ᵀ · (s c V)[rows]
    std::memcpy(b_rows.data(), lora.b->value.data() + r0 * rank, static_cast<size_t>(rows * rank) * sizeof(float));
    LinearBackwardWeight(lora.a->grad.data(), b_rows.data(), dv.data(), rows, in, rank, pool);
  }
}

}  // namespace

std::vector<float> DoraRowNorms(const TensorView& w, const LoraModule& lora, ThreadPool& pool) {
  std::vector<float> norms(static_cast<size_t>(lora.out));
  ParallelFor(pool, lora.out, 8, [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(w.cols()));
    for (int64_t r = begin; r < end; ++r) {
      VRow(w, lora, r, row.data());
      double sum = 0;
      for (float v : row) sum += static_cast<double>(v) * v;
      norms[static_cast<size_t>(r)] = static_cast<float>(std::sqrt(sum));
    }
  });
  return norms;
}

void TrainLinearForward(const TensorView& w, const LoraModule* lora, const DropoutKey& dropout, const float* x,
                        int64_t n, int64_t in, float* y, LinearTape& tape, LinearScratch& scratch, ThreadPool& pool) {
  if (w.cols() == in) {
    MatMulF32Activations(w, x, n, y, pool);
  } else {  // rows padded with zero weights: pad x likewise
    const int64_t k = w.cols();
    float* padded = Sized(scratch.padded, n * k);
    for (int64_t t = 0; t < n; ++t) {
      std::copy(x + t * in, x + (t + 1) * in, padded + t * k);
      std::fill(padded + t * k + in, padded + (t + 1) * k, 0.0f);
    }
    MatMulF32Activations(w, padded, n, y, pool);
  }
  if (lora == nullptr) return;
  const int64_t out = lora->out, rank = lora->r;
  const float* xd = x;
  if (dropout.p > 0) {
    float* dropped = Sized(scratch.in_a, n * in);
    ApplyDropout(dropped, x, n * in, dropout);
    xd = dropped;
  }
  MatMul(lora->a->view(), xd, n, Sized(tape.xa, n * rank), pool);  // (n, r)
  float* update = Sized(scratch.out_a, n * out);
  MatMul(lora->b->view(), tape.xa.data(), n, update, pool);  // (n, out)
  vec::Axpy(y, lora->scale, update, n * out);
  if (lora->magnitude == nullptr) return;
  tape.norm = DoraRowNorms(w, *lora, pool);
  tape.z.assign(y, y + n * out);
  const float* m = lora->magnitude->value.data();
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t r = 0; r < out; ++r) y[t * out + r] *= m[r] / tape.norm[static_cast<size_t>(r)];
  }
}

void TrainLinearBackward(const TensorView& w, float* dw, const LoraModule* lora, const DropoutKey& dropout,
                         bool detach_norm, const float* dy, const float* x, int64_t n, int64_t in,
                         const LinearTape& tape, float* dx, bool accumulate, LinearScratch& scratch, ThreadPool& pool) {
  const int64_t out = w.rows();
  // DoRA: y = g ⊙ z with g = m / ‖V‖; dz = g ⊙ dy, dm = Σ dy z / ‖V‖.
  if (lora != nullptr && lora->magnitude != nullptr) {
    const float* m = lora->magnitude->value.data();
    float* dm = lora->magnitude->grad.data();
    std::vector<double> dg(static_cast<size_t>(out), 0.0);
    float* scaled = Sized(scratch.out_b, n * out);
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t r = 0; r < out; ++r) {
        const int64_t i = t * out + r;
        dg[static_cast<size_t>(r)] += static_cast<double>(dy[i]) * tape.z[static_cast<size_t>(i)];
        scaled[i] = dy[i] * (m[r] / tape.norm[static_cast<size_t>(r)]);
      }
    }
    std::vector<double> cn(static_cast<size_t>(out));
    for (int64_t r = 0; r < out; ++r) {
      const double norm = tape.norm[static_cast<size_t>(r)];
      dm[r] += static_cast<float>(dg[static_cast<size_t>(r)] / norm);
      cn[static_cast<size_t>(r)] = -dg[static_cast<size_t>(r)] * m[r] / (norm * norm * norm);  // dL/d‖V‖ / ‖V‖
    }
    if (!detach_norm) DoraNormBackward(w, *lora, cn, pool);
    dy = scaled;
  }
  if (w.cols() == in) {
    LinearBackwardInput(dx, dy, w, n, accumulate, pool);
  } else {  // the padded columns' gradients are dropped
    const int64_t k = w.cols();
    float* padded = Sized(scratch.padded, n * k);
    LinearBackwardInput(padded, dy, w, n, false, pool);
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t j = 0; j < in; ++j) dx[t * in + j] = (accumulate ? dx[t * in + j] : 0.0f) + padded[t * k + j];
    }
  }
  if (dw != nullptr) LinearBackwardWeight(dw, dy, x, n, in, out, pool);
  if (lora == nullptr) return;

  // y += s B (A xd): d(xa) = s dy B, dB += s dyᵀ xa, dA += d(xa)ᵀ xd, dxd = d(xa) A.
  const int64_t rank = lora->r;
  float* sdy = Sized(scratch.out_a, n * out);
  std::copy(dy, dy + n * out, sdy);
  vec::Scale(sdy, lora->scale, n * out);
  float* dxa = Sized(scratch.rank, n * rank);
  LinearBackwardInput(dxa, sdy, lora->b->view(), n, false, pool);
  LinearBackwardWeight(lora->b->grad.data(), sdy, tape.xa.data(), n, rank, out, pool);
  if (dropout.p <= 0) {
    LinearBackwardWeight(lora->a->grad.data(), dxa, x, n, in, rank, pool);
    LinearBackwardInput(dx, dxa, lora->a->view(), n, true, pool);
    return;
  }
  float* xd = Sized(scratch.in_a, n * in);
  ApplyDropout(xd, x, n * in, dropout);
  LinearBackwardWeight(lora->a->grad.data(), dxa, xd, n, in, rank, pool);
  float* dxd = Sized(scratch.in_b, n * in);
  LinearBackwardInput(dxd, dxa, lora->a->view(), n, false, pool);
  ApplyDropout(xd, nullptr, n * in, dropout);  // the mask
  for (int64_t i = 0; i < n * in; ++i) dx[i] += dxd[i] * xd[i];
}

}  // namespace leanlm
