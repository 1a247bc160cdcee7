// Optimizers over a flat list of trainable tensors: AdamW and SGD with the
// update rules of PyTorch's torch.optim.AdamW and torch.optim.SGD (1.13,
// single-tensor path), gradient clipping by global norm as
// torch.nn.utils.clip_grad_norm_, and the averaging of accumulated gradients.
// Everything runs in a fixed order on one thread, so a step is a pure
// function of (parameters, gradients, state, lr): deterministic and resumable.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace leanlm {

// A trainable tensor owned by someone else (the model, an adapter). `grad`
// has the same element count as `value` and is zeroed by the trainer before
// each optimizer step's micro-batches add to it.
struct TrainParam {
  std::string name;            // unique; names the tensor in checkpoints
  float* value = nullptr;      // [n]
  float* grad = nullptr;       // [n]
  int64_t n = 0;
  bool no_weight_decay = false;  // biases, norms, embeddings one may exclude
  std::vector<int64_t> ne;     // ggml-order shape for checkpoints; empty means {n}
};

// Checks names are unique and non-empty, pointers set, n > 0 and ne agrees.
Status ValidateParams(std::span<const TrainParam> params);

// A named float buffer of optimizer state, for checkpoints.
struct OptimizerStateBuffer {
  std::string name;  // "<param>.exp_avg", "<param>.exp_avg_sq", "<param>.momentum_buffer"
  float* data = nullptr;
  int64_t n = 0;
};

enum class OptimizerKind { kAdamW, kSgd };

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::kAdamW;
  double weight_decay = 0.0;  // AdamW: decoupled (lr * wd * param); SGD: L2 added to the gradient
  // AdamW
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  // SGD
  double momentum = 0.0, dampening = 0.0;
  bool nesterov = false;
};

class Optimizer {
 public:
  // The parameters are fixed for the optimizer's life; state buffers are
  // allocated here (zeros), as PyTorch does lazily on the first step.
  static Result<std::unique_ptr<Optimizer>> Create(const OptimizerOptions& options, std::vector<TrainParam> params);
  virtual ~Optimizer() = default;

  // One update of every parameter from its gradient, at learning rate lr.
  virtual void Step(double lr) = 0;
  // Optimizer steps taken so far (AdamW's bias correction uses it).
  int64_t steps() const { return steps_; }
  void set_steps(int64_t steps) { steps_ = steps; }
  const std::vector<TrainParam>& params() const { return params_; }
  // Views of the state, to save or to fill when resuming.
  virtual std::vector<OptimizerStateBuffer> StateBuffers() = 0;
  const OptimizerOptions& options() const { return options_; }

 protected:
  Optimizer(const OptimizerOptions& options, std::vector<TrainParam> params)
      : options_(options), params_(std::move(params)) {}
  OptimizerOptions options_;
  std::vector<TrainParam> params_;
  int64_t steps_ = 0;
};

// Sets every gradient to zero.
void ZeroGrads(std::span<const TrainParam> params);
// Multiplies every gradient by `factor` (1/G after G accumulated micro-batches).
void ScaleGrads(std::span<const TrainParam> params, float factor);
// The L2 norm of all gradients together (accumulated in double).
double GlobalGradNorm(std::span<const TrainParam> params);
// torch.nn.utils.clip_grad_norm_(max_norm): scales the gradients by
// min(1, max_norm / (norm + 1e-6)) and returns the norm before clipping.
// A non-finite norm is returned without touching the gradients.
double ClipGradNorm(std::span<const TrainParam> params, double max_norm);

const char* OptimizerName(OptimizerKind kind);  // "adamw", "sgd"
Result<OptimizerKind> ParseOptimizerKind(const std::string& name);

}  // namespace leanlm
