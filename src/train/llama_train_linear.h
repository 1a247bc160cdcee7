// A linear layer of the training graph: y = x · Wᵀ through the inference
// MatMul (W of any type: the frozen base, or a trainable F32 master copy),
// with the layer's LoRA or DoRA (llama_train_model.h) on top, and its
// backward: dx for any W (the op backward dequantizes on the fly), dW for a
// trainable W, and the gradients of A, B and DoRA's magnitude.
#pragma once

#include <cstdint>
#include <vector>

#include "base/tensor.h"
#include "base/thread_pool.h"
#include "train/llama_train_model.h"

namespace leanlm {

// LoRA dropout: element i of the input is kept (scaled by 1 / (1 - p)) or
// zeroed by a hash of (seed, i), so the backward regenerates the mask
// instead of storing it. p == 0: no dropout.
struct DropoutKey {
  float p = 0;
  uint64_t seed = 0;
};

// What the backward of one linear layer needs besides its input x.
struct LinearTape {
  std::vector<float> xa;    // (n, r): A · dropout(x)
  std::vector<float> z;     // DoRA: (n, out) W x + s B A x, before the magnitude
  std::vector<float> norm;  // DoRA: (out) ‖W + s B A‖ of each output row
};

// Temporaries of the LoRA/DoRA paths, shared by all layers and reused across
// steps, so a step neither allocates nor page-faults them once sized.
struct LinearScratch {
  std::vector<float> in_a, in_b;    // (n, in)
  std::vector<float> out_a, out_b;  // (n, out)
  std::vector<float> rank;          // (n, r)
  std::vector<float> padded;        // (n, W's row length) when W's rows are padded
};

// y (n, out) = x (n, in) · Wᵀ, plus the LoRA/DoRA update when lora is set
// (the tape then receives what LinearBackward needs). W's rows may be longer
// than `in` (zero-padded to a block multiple: QLoRA's NF4 of odd widths);
// x is padded to match.
void TrainLinearForward(const TensorView& w, const LoraModule* lora, const DropoutKey& dropout, const float* x,
                        int64_t n, int64_t in, float* y, LinearTape& tape, LinearScratch& scratch, ThreadPool& pool);

// From dy (n, out): dx (n, in) = or += (accumulate) dL/dx; dw (out, in)
// += dL/dW when W is trainable (non-null; W is then F32); and the LoRA/DoRA
// gradients (+=) into lora's tensors. x and dropout as in the forward.
// detach_norm: DoRA's norm is treated as a constant (PEFT's choice).
void TrainLinearBackward(const TensorView& w, float* dw, const LoraModule* lora, const DropoutKey& dropout,
                         bool detach_norm, const float* dy, const float* x, int64_t n, int64_t in,
                         const LinearTape& tape, float* dx, bool accumulate, LinearScratch& scratch,
                         ThreadPool& pool);

// ‖W + s B A‖ of every output row (out), in double then rounded: DoRA's
// norm, also its initial magnitude (B = 0 gives ‖W‖).
std::vector<float> DoraRowNorms(const TensorView& w, const LoraModule& lora, ThreadPool& pool);

}  // namespace leanlm
