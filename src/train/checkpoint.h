// Training checkpoints that resume exactly. A checkpoint in DIR is two files:
//   DIR/checkpoint-<step>.safetensors  the trainable tensors ("param.<name>")
//       and the optimizer's state ("optim.<name>.exp_avg", ...), all F32,
//       with the step in its metadata;
//   DIR/checkpoint.json  the commit record: which tensor file, step, the
//       optimizer's kind and step count, the data loader's position, the
//       generator state, tokens and time so far, and the training data's
//       fingerprint.
// Each is written atomically (temporary file, fsync, rename) and the JSON
// last, so a crash at any moment leaves the previous checkpoint intact;
// older tensor files are removed only after the new record is in place.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "base/status.h"
#include "train/data_loader.h"
#include "train/optim.h"

namespace leanlm {

struct TrainState {
  int64_t step = 0;            // optimizer steps completed
  int64_t tokens = 0;          // input tokens trained on
  double seconds = 0;          // training time so far
  DataPosition data;           // the next training sequence
  std::array<uint64_t, 4> rng{};  // TrainRng state
  uint64_t data_fingerprint = 0;  // DataFingerprint of the training sequences
};

// A hash of the sequences' tokens and labels: a resumed run must see the same data.
uint64_t DataFingerprint(const std::vector<Sequence>& sequences);

bool CheckpointExists(const std::string& dir);
Status SaveCheckpoint(const std::string& dir, Optimizer& optimizer, const TrainState& state);
// Restores the parameters' values and the optimizer's state and step count;
// every tensor must be present with its size, and nothing else.
Result<TrainState> LoadCheckpoint(const std::string& dir, Optimizer& optimizer);

}  // namespace leanlm
