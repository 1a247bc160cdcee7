// Batches from a sequence list: a fresh seeded shuffle every epoch, a
// position (epoch, index) that a checkpoint stores to resume exactly, and a
// deterministic validation split. The random numbers come from our own
// generator (xoshiro256** seeded by SplitMix64), not std:: distributions,
// whose output differs between standard libraries.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "base/status.h"
#include "train/data.h"

namespace leanlm {

class TrainRng {
 public:
  explicit TrainRng(uint64_t seed = 0);
  uint64_t Next();
  uint64_t Below(uint64_t n);  // uniform in [0, n), n > 0, without modulo bias
  double Uniform();            // [0, 1) with 53 random bits
  std::array<uint64_t, 4> state() const { return s_; }
  Status set_state(const std::array<uint64_t, 4>& state);  // all-zero is not a valid state

 private:
  std::array<uint64_t, 4> s_;
};

// A permutation of [0, n) by Fisher-Yates with TrainRng(seed).
std::vector<int64_t> SeededPermutation(int64_t n, uint64_t seed);

// Moves round(fraction * n) sequences (at least 1 when fraction > 0, and
// never all of them) chosen by seed from `train` into `val`; the rest keep
// their order. fraction must lie in [0, 1).
Status SplitValidation(std::vector<Sequence>& train, double fraction, uint64_t seed, std::vector<Sequence>& val);

struct Batch {
  std::vector<const Sequence*> sequences;  // [B], pointing into the dataset
  int64_t tokens = 0;       // input positions
  int64_t loss_tokens = 0;  // positions with a label
  uint64_t seed = 0;        // for the objective's own randomness (dropout), set by the trainer
};

// Builds a batch of the given sequences (counts filled in).
Batch MakeBatch(std::vector<const Sequence*> sequences);

struct DataPosition {
  int64_t epoch = 0;
  int64_t index = 0;  // the next sequence is order(epoch)[index]
};

class DataLoader {
 public:
  // `sequences` must outlive the loader and be non-empty.
  DataLoader(const std::vector<Sequence>& sequences, uint64_t seed, bool shuffle = true);
  // The next batch_size sequences; an epoch's end continues into the next one.
  Batch Next(int64_t batch_size);
  DataPosition position() const { return {epoch_, index_}; }
  // Checks the position fits this data (a checkpoint from other data does not).
  Status Seek(const DataPosition& position);
  int64_t size() const { return static_cast<int64_t>(sequences_.size()); }

 private:
  void Reorder();  // order_ for epoch_

  const std::vector<Sequence>& sequences_;
  uint64_t seed_;
  bool shuffle_;
  int64_t epoch_ = 0, index_ = 0;
  std::vector<int64_t> order_;  // [n]
};

}  // namespace leanlm
