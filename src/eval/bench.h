// Speed of a model the way llama-bench measures it — pp: a batch of random
// prompt tokens from an empty cache; tg: tokens generated one at a time from
// an empty cache — plus the machine's measured read bandwidth and the
// roofline it implies for generation (every weight is read once per token).
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/model.h"

namespace leanlm {

struct BenchOptions {
  int64_t n_prompt = 128;
  int64_t n_generate = 64;
  int repetitions = 5;
  uint64_t seed = 1;
};

struct SpeedSamples {
  std::vector<double> tokens_per_second;  // one per repetition
  double median() const;
  double min() const;
  double max() const;
};

struct BenchResult {
  SpeedSamples prompt, generate;
  double weight_bytes_per_token = 0;  // bytes of all weights a decode step reads
};

Result<BenchResult> BenchmarkModel(Model& model, ThreadPool& pool, const BenchOptions& options);

// Median read bandwidth (bytes/s) of the pool's threads streaming through a
// buffer much larger than the caches.
double MeasureReadBandwidth(ThreadPool& pool, size_t bytes = size_t{1} << 30, int repetitions = 5);

}  // namespace leanlm
