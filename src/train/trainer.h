// The training loop, independent of any model: an Objective supplies the
// trainable tensors and the loss with its gradient for a batch; the loop
// does the rest — micro-batches with gradient accumulation, clipping by
// global norm, the learning-rate schedule, the optimizer step, periodic
// validation, progress (bar with loss, tokens/s and ETA on a terminal,
// plain lines otherwise), the loss CSV and SVG, and checkpoints every N
// steps and at the end that --resume continues bit for bit.
//
// Files in options.out_dir: loss.csv, loss.svg, checkpoint.json and
// checkpoint-<step>.safetensors (see checkpoint.h).
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "train/data.h"
#include "train/data_loader.h"
#include "train/optim.h"
#include "train/schedule.h"

namespace leanlm {

class Objective {
 public:
  virtual ~Objective() = default;
  // The trainable tensors; called once per Train(), the pointers must stay
  // valid until it returns.
  virtual std::vector<TrainParam> Params() = 0;
  // Forward and backward on one micro-batch: ADDS the gradient of the mean
  // loss over the batch's labelled tokens to each parameter's grad, and
  // returns that mean loss. batch.seed seeds any randomness (dropout), so a
  // resumed run draws the same.
  virtual Result<float> ForwardBackward(const Batch& batch) = 0;
  // The mean loss over the batch's labelled tokens; no gradients.
  virtual Result<float> Evaluate(const Batch& batch) = 0;
};

struct TrainerOptions {
  int64_t steps = 0;         // optimizer steps; 0: from epochs
  double epochs = 1.0;       // passes over the training data, when steps == 0
  int64_t batch_size = 1;    // sequences per micro-batch
  int64_t grad_accum = 1;    // micro-batches per optimizer step (their gradients are averaged)
  OptimizerOptions optimizer;
  ScheduleOptions schedule;  // total_steps 0 means the run's steps
  double max_grad_norm = 1.0;  // 0: no clipping
  int64_t eval_every = 0;    // steps between validations (0: at the start and end only)
  int64_t eval_batches = 0;  // validation batches per evaluation (0: all)
  int64_t save_every = 0;    // steps between checkpoints (0: at the end only)
  std::string out_dir;       // empty: no files
  bool resume = false;       // continue from out_dir's checkpoint (fresh start when there is none)
  uint64_t seed = 0;         // shuffling and batch seeds
  bool show_progress = true;
  std::string label = "train";
  // Called after each checkpoint is written, so the caller can save its own
  // files (an adapter, a model) beside it.
  std::function<Status(int64_t step)> on_checkpoint;
  // Called after every step (and its checkpoint, if any); false stops at
  // once, as an interruption would: no final validation or checkpoint.
  std::function<bool(int64_t step)> keep_going;
};

struct TrainResult {
  int64_t start_step = 0;     // > 0 when resumed
  int64_t steps = 0;          // optimizer steps completed in total
  int64_t total_steps = 0;
  double last_train_loss = NAN;
  double first_val_loss = NAN;  // at step 0 (NaN when resumed or without validation data)
  double last_val_loss = NAN;
  int64_t tokens = 0;           // trained on this run
  double seconds = 0;           // this run
  bool interrupted = false;     // keep_going said stop
};

// The optimizer steps `options` asks for on `n_train` training sequences.
int64_t PlannedSteps(const TrainerOptions& options, int64_t n_train);

Result<TrainResult> Train(Objective& objective, const Dataset& data, const TrainerOptions& options);

// The validation loss: per-batch means weighted by their labelled tokens,
// over up to max_batches (0: all) batches of the sequences in order.
Result<double> EvaluateLoss(Objective& objective, const std::vector<Sequence>& sequences, int64_t batch_size,
                            int64_t max_batches);

}  // namespace leanlm
