// Turns logits into the next token: penalties, then temperature, top-k,
// top-p and min-p, then a draw from a seeded generator (reproducible).
// temperature == 0 is greedy (argmax, lowest id on ties).
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <vector>

namespace leanlm {

struct SamplerParams {
  float temperature = 0.8f;
  int32_t top_k = 40;         // 0 = off
  float top_p = 0.95f;        // 1 = off
  float min_p = 0.05f;        // 0 = off
  float repeat_penalty = 1.0f;    // llama.cpp semantics: divide positive logits, multiply negative ones
  float presence_penalty = 0.0f;  // subtracted once from the logit of every token seen
  float frequency_penalty = 0.0f; // subtracted per occurrence
  int32_t penalty_last_n = 64;    // window of recent tokens the penalties look at
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplerParams& params);
  // logits is modified in place (n_vocab entries).
  int32_t Sample(float* logits, int64_t n_vocab);
  // Records a token (prompt or generated) for the penalties.
  void Accept(int32_t id);

 private:
  SamplerParams params_;
  std::mt19937_64 rng_;
  std::deque<int32_t> recent_;
  std::vector<std::pair<float, int32_t>> candidates_;
};

}  // namespace leanlm
