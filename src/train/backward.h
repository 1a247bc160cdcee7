// Backward passes of the LLaMA block's ops (src/ops/*): for each forward
// y = f(x, params), the vector-Jacobian products dL/dx (and dL/dparams) given
// dL/dy. Shapes follow ggml order as in the forward headers: (n, dim) means n
// rows of dim contiguous floats.
//
// Conventions, the same for every function here:
//   - Gradients of activations (dx, dq, ...) are written (=) unless the
//     function takes `accumulate`, which makes them += (the trainer sums the
//     three paths into the attention's normalized input, or a sublayer's
//     gradient into the residual stream's).
//   - Gradients of parameters (dweight, dbias, dw, dtable) are always
//     accumulated (+=), so micro-batches add up; the caller zeroes them. A
//     null parameter gradient means the parameter is frozen: it is skipped.
//   - Inputs are what the forward read plus what it saved (rstd of
//     RmsNormForward, probs of AttentionForward); nothing is recomputed that
//     the forward can save cheaply.
//   - Functions that take a pool must not be called from inside one of its
//     parallel regions; they use the pool's scratch slots (the caller must not
//     keep data there across the call) and allocate nothing else per call.
#pragma once

#include <cstdint>

#include "base/tensor.h"
#include "base/thread_pool.h"
#include "model/config.h"
#include "ops/attention.h"

namespace leanlm {

// --- Embedding: out (n, dim) = scale * table[tokens[i]] (EmbeddingForward) ---
// dtable += scale * dout, row by row: row tokens[i] of dtable, or row
// row_map[tokens[i]] when row_map is given (a compact gradient table of the
// trainable rows only; tokens whose row_map entry is negative are skipped).
//   dtable: (n_rows, dim) F32; dout: (n, dim); tokens: (n), each in
//   [0, n_vocab) (checked by the caller, like the forward); row_map: (n_vocab) or null.
// Single-threaded: the cost is n * dim adds, and tokens may repeat.
void EmbeddingBackward(float* dtable, const float* dout, const int32_t* tokens, int64_t n, int64_t dim, float scale,
                       const int32_t* row_map);

// --- RMSNorm: y = x * rstd * weight, rstd = 1 / sqrt(mean(x²) + eps) ---
//   dx: (n, dim), = or += (accumulate) the gradient w.r.t. x; may not alias dout or x
//   dweight: (dim) += Σ_rows dout * x * rstd, or null (frozen norm)
//   dout, x: (n, dim); weight: (dim); rstd: (n), as RmsNormForward saved it
void RmsNormBackward(float* dx, float* dweight, const float* dout, const float* x, const float* weight,
                     const float* rstd, int64_t n, int64_t dim, bool accumulate, ThreadPool& pool);

// --- RoPE (RopeForward) ---
// dx: (n, n_heads, head_dim) holds dL/d(rotated x) and is turned in place
// into dL/dx: the transpose of a rotation is the rotation by the opposite
// angle. cs: (n, 2, rotary_dim / 2), the same table RopeCosSin made for the
// forward (so every frequency scaling the forward applies applies here too);
// neox as in the forward; elements from rotary_dim on pass through.
void RopeBackward(float* dx, const float* cs, int64_t n, int64_t n_heads, int64_t head_dim, int64_t rotary_dim,
                  bool neox, ThreadPool& pool);

// --- Causal attention with GQA/MQA (AttentionForward) ---
// Where the gradients of the keys and values go: element d of position p in
// kv head g is dk[g * head_stride + p * pos_stride + d] (dv likewise), the
// same layouts as KvView.
struct KvGradView {
  float* dk = nullptr;
  float* dv = nullptr;
  int64_t pos_stride = 0;
  int64_t head_stride = 0;
};

// For the forward out = softmax(q kᵀ / sqrt(head_dim)) v of n queries at
// positions pos0 .. pos0+n-1 over keys/values 0 .. n_kv-1, n_kv = pos0 + n:
//   dq:      (n, n_head, head_dim), written
//   dkv:     dk, dv of all n_kv positions, written (positions < pos0, e.g.
//            prefix-tuning keys and values, get their gradients too); the
//            query heads sharing a kv head sum into it
//   dscores: (n, n_head, n_kv) scratch for the score gradients; it may be
//            probs itself, which is then overwritten (the tape is spent)
//   dout:    (n, n_head, head_dim) = dL/dout
//   q, kv:   what the forward read (q after RoPE, keys after RoPE)
//   probs:   (n, n_head, n_kv) the softmax weights AttentionForward saved
// dq, dk, dv must not alias each other or the inputs. Multithreaded over
// (query, kv head) for dq and over (position, kv head) for dk, dv: every
// element has one writer, so the result does not depend on the thread count.
void AttentionBackward(float* dq, const KvGradView& dkv, float* dscores, const float* dout, const float* q,
                       const KvView& kv, const float* probs, int64_t n, int64_t pos0, const AttentionDims& dims,
                       ThreadPool& pool);

// --- Softmax of one row (SoftmaxForward): y = softmax(x) ---
// dx (n) = y * (dy - Σ y·dy); dx may be dy itself.
void SoftmaxBackward(float* dx, const float* y, const float* dy, int64_t n);

// --- Gated activation: out = act(gate) * up (GatedActivationForward) ---
//   dgate, dup: (count), written: dout * up * act'(gate) and dout * act(gate)
//   dout, gate, up: (count)
// dgate or dup may be dout itself (each element is read before it is
// written); dgate and dup are distinct.
void GatedActivationBackward(float* dgate, float* dup, const float* dout, const float* gate, const float* up,
                             int64_t count, Activation act, ThreadPool& pool);

// --- Additions (AddForward, BiasForward) ---
// Residual y += x: the gradient of x is dy. dx += dy over (count) — how the
// trainer adds a sublayer's input gradient to the residual stream's.
void AddBackward(float* dx, const float* dy, int64_t count);
// Bias: y (n, m) each row += bias (m). dbias (m) += Σ_rows dy; dy: (n, m).
void BiasBackward(float* dbias, const float* dy, int64_t n, int64_t m);

// --- Linear layer y = x · Wᵀ (MatMul): W ne {k, m}, x (n, k), y (n, m) ---
// dx (n, k) = dy · W, or += with accumulate; dy: (n, m). W may be of any
// registered type with a to_float (F32, F16, BF16, every block format) and
// is frozen: row tiles of it are converted to F32 in the pool's scratch as the
// product needs them, never the whole matrix. Multithreaded; the F32 product
// runs on MatMul's GEMM microkernels for the active CPU level.
void LinearBackwardInput(float* dx, const float* dy, const TensorView& w, int64_t n, bool accumulate, ThreadPool& pool);
// For a trainable F32 W: dw (m, k) += dyᵀ · x; dy: (n, m), x: (n, k).
// Multithreaded over tiles of dw (one writer each).
void LinearBackwardWeight(float* dw, const float* dy, const float* x, int64_t n, int64_t k, int64_t m,
                          ThreadPool& pool);

// --- Softmax cross-entropy over logits, fused with its gradient ---
struct CrossEntropyResult {
  double loss_sum = 0;  // Σ over counted rows of -log softmax(logits)[label]
  int64_t count = 0;    // rows with a label >= 0
  // The mean over counted rows; 0 when none counted.
  double mean() const { return count > 0 ? loss_sum / static_cast<double>(count) : 0.0; }
};
// logits: (n, n_vocab); labels: (n), a label < 0 (e.g. -1, or HF's -100)
// means "no loss on this row", otherwise in [0, n_vocab) (CHECKed: the data
// pipeline validates untrusted labels).
// dlogits: (n, n_vocab) = (softmax(logits) - onehot(label)) / denom for
// counted rows, 0 for ignored rows, with denom = grad_denom if > 0, else the
// count of this call (the gradient of the mean loss). A trainer that
// accumulates micro-batches passes the count of the whole batch. dlogits may
// be logits itself, or null for the loss alone (evaluation). Numerically
// stable (max-shifted; the sum of exponentials in double); multithreaded over
// rows.
CrossEntropyResult CrossEntropyBackward(float* dlogits, const float* logits, const int32_t* labels, int64_t n,
                                        int64_t n_vocab, double grad_denom, ThreadPool& pool);

}  // namespace leanlm
