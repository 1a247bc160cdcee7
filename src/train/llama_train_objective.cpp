#include "train/llama_train_objective.h"

#include <algorithm>
#include <string>

namespace leanlm {

LlamaObjective::LlamaObjective(TrainableModel& model, ThreadPool& pool, TrainGraphOptions options)
    : model_(model), pool_(pool), graph_(model, options) {}

Result<TrainBatch> LlamaObjective::Pack(const Batch& batch) {
  int64_t seq = 0;
  for (size_t b = 0; b < batch.sequences.size(); ++b) {
    const Sequence* s = batch.sequences[b];
    if (s == nullptr || s->tokens.size() != s->labels.size()) {
      return Status::Error("training batch: sequence " + std::to_string(b) + " has " +
                           (s == nullptr ? std::string("no data") :
                                           std::to_string(s->tokens.size()) + " tokens but " +
                                               std::to_string(s->labels.size()) + " labels"));
    }
    seq = std::max(seq, static_cast<int64_t>(s->tokens.size()));
  }
  const auto n = static_cast<int64_t>(batch.sequences.size());
  if (n == 0 || seq == 0) return Status::Error("training batch: no tokens");
  tokens_.assign(static_cast<size_t>(n * seq), 0);
  labels_.assign(static_cast<size_t>(n * seq), -1);
  for (int64_t b = 0; b < n; ++b) {
    const Sequence& s = *batch.sequences[static_cast<size_t>(b)];
    std::copy(s.tokens.begin(), s.tokens.end(), tokens_.begin() + b * seq);
    std::copy(s.labels.begin(), s.labels.end(), labels_.begin() + b * seq);
  }
  return TrainBatch{tokens_.data(), labels_.data(), n, seq};
}

Result<float> LlamaObjective::ForwardBackward(const Batch& batch) {
  Result<TrainBatch> packed = Pack(batch);
  if (!packed.ok()) return packed.status();
  Result<CrossEntropyResult> loss = graph_.ForwardBackward(*packed, 0, batch.seed, pool_);
  if (!loss.ok()) return loss.status();
  return static_cast<float>(loss->mean());
}

Result<float> LlamaObjective::Evaluate(const Batch& batch) {
  Result<TrainBatch> packed = Pack(batch);
  if (!packed.ok()) return packed.status();
  Result<CrossEntropyResult> loss = graph_.Evaluate(*packed, pool_);
  if (!loss.ok()) return loss.status();
  return static_cast<float>(loss->mean());
}

}  // namespace leanlm
