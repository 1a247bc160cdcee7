// The next-token objective of a LLaMA model for the generic training loop
// (train/trainer.h):
// a batch of data sequences (train/data_loader.h) is padded into one B × T
// TrainBatch (pad positions carry no label; attention is causal, so padding
// at the end changes nothing before it) and run through LlamaTrainGraph.
#pragma once

#include <cstdint>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "train/data_loader.h"
#include "train/llama_train.h"
#include "train/llama_train_model.h"
#include "train/optim.h"
#include "train/trainer.h"

namespace leanlm {

class LlamaObjective : public Objective {
 public:
  // model and pool must outlive the objective.
  LlamaObjective(TrainableModel& model, ThreadPool& pool, TrainGraphOptions options = {});

  std::vector<TrainParam> Params() override { return model_.Params(); }
  // Adds the gradient of the mean loss over the batch's labelled tokens to
  // every trainable tensor; returns that mean. batch.seed seeds LoRA dropout.
  Result<float> ForwardBackward(const Batch& batch) override;
  // The mean loss over the labelled tokens, without gradients or dropout.
  Result<float> Evaluate(const Batch& batch) override;

 private:
  // Fills tokens_/labels_ from the batch; errors on an empty batch or
  // mismatched token/label lengths.
  Result<TrainBatch> Pack(const Batch& batch);

  TrainableModel& model_;
  ThreadPool& pool_;
  LlamaTrainGraph graph_;
  std::vector<int32_t> tokens_, labels_;  // (B, T)
};

}  // namespace leanlm
