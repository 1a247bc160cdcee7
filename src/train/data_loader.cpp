#include "train/data_loader.h"

#include <algorithm>
#include <cmath>

namespace leanlm {
namespace {

uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

TrainRng::TrainRng(uint64_t seed) {
  for (uint64_t& word : s_) word = SplitMix64(seed);
}

uint64_t TrainRng::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

uint64_t TrainRng::Below(uint64_t n) {
  // Rejects the top partial range so every residue is equally likely.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do {
    x = Next();
  } while (x >= limit);
  return x % n;
}

double TrainRng::Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

Status TrainRng::set_state(const std::array<uint64_t, 4>& state) {
  if (state[0] == 0 && state[1] == 0 && state[2] == 0 && state[3] == 0) {
    return Status::Error("random generator state is all zeros");
  }
  s_ = state;
  return Status::Ok();
}

std::vector<int64_t> SeededPermutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  TrainRng rng(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    std::swap(order[i], order[rng.Below(static_cast<uint64_t>(i) + 1)]);
  }
  return order;
}

Status SplitValidation(std::vector<Sequence>& train, double fraction, uint64_t seed, std::vector<Sequence>& val) {
  if (!(fraction >= 0.0 && fraction < 1.0)) return Status::Error("validation split must lie in [0, 1)");
  if (fraction == 0.0) return Status::Ok();
  const int64_t n = static_cast<int64_t>(train.size());
  if (n < 2) return Status::Error("cannot split " + std::to_string(n) + " sequence(s) into train and validation");
  const int64_t n_val = std::clamp<int64_t>(std::llround(fraction * static_cast<double>(n)), 1, n - 1);
  // A seed distinct from the shuffling's, so the split does not mirror epoch 0's order.
  const std::vector<int64_t> order = SeededPermutation(n, seed ^ 0x5eedf00dcafe1234ULL);
  std::vector<bool> is_val(static_cast<size_t>(n), false);
  for (int64_t i = 0; i < n_val; ++i) is_val[order[i]] = true;
  std::vector<Sequence> kept;
  for (int64_t i = 0; i < n; ++i) (is_val[i] ? val : kept).push_back(std::move(train[i]));
  train = std::move(kept);
  return Status::Ok();
}

Batch MakeBatch(std::vector<const Sequence*> sequences) {
  Batch batch;
  batch.sequences = std::move(sequences);
  for (const Sequence* s : batch.sequences) {
    batch.tokens += static_cast<int64_t>(s->tokens.size());
    batch.loss_tokens += s->loss_tokens();
  }
  return batch;
}

DataLoader::DataLoader(const std::vector<Sequence>& sequences, uint64_t seed, bool shuffle)
    : sequences_(sequences), seed_(seed), shuffle_(shuffle) {
  Reorder();
}

void DataLoader::Reorder() {
  const int64_t n = size();
  if (shuffle_) {
    order_ = SeededPermutation(n, seed_ + 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(epoch_ + 1));
  } else {
    order_.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) order_[i] = i;
  }
}

Batch DataLoader::Next(int64_t batch_size) {
  std::vector<const Sequence*> picked;
  if (sequences_.empty()) return MakeBatch(std::move(picked));
  for (int64_t b = 0; b < batch_size; ++b) {
    if (index_ == size()) {
      ++epoch_;
      index_ = 0;
      Reorder();
    }
    picked.push_back(&sequences_[static_cast<size_t>(order_[index_++])]);
  }
  return MakeBatch(std::move(picked));
}

Status DataLoader::Seek(const DataPosition& position) {
  if (position.epoch < 0 || position.index < 0 || position.index > size()) {
    return Status::Error("data position (epoch " + std::to_string(position.epoch) + ", sequence " +
                         std::to_string(position.index) + ") does not fit " + std::to_string(size()) +
                         " training sequences: was the checkpoint made with other data or --ctx?");
  }
  epoch_ = position.epoch;
  index_ = position.index;
  Reorder();
  return Status::Ok();
}

}  // namespace leanlm
