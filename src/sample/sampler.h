// Turns logits into the next token with llama.cpp's default chain and
// semantics: penalties, top-k, top-p, min-p, temperature, then a draw from a
// seeded generator (reproducible for a seed). temperature == 0 is greedy
// (argmax after penalties, lowest id on ties).
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <utility>
#include <vector>

#include "base/status.h"

namespace leanlm {

struct SamplerParams {
  float temperature = 0.8f;
  int32_t top_k = 40;         // 0 = off
  float top_p = 0.95f;        // 1 = off
  float min_p = 0.05f;        // 0 = off
  float repeat_penalty = 1.0f;    // llama.cpp semantics: divide positive logits, multiply negative ones
  float presence_penalty = 0.0f;  // subtracted once from the logit of every token seen
  float frequency_penalty = 0.0f; // subtracted per occurrence
  int32_t penalty_last_n = 64;    // window of recent tokens the penalties look at (0 = off; llama.cpp's
                                  // -1, "the whole context", is the caller's context size)
  uint64_t seed = 0;

  // Checks the ranges (user input): temperature >= 0, top_k >= 0,
  // top_p and min_p in [0, 1], repeat_penalty > 0, penalty_last_n >= 0,
  // everything finite.
  Status Validate() const;
};

class Sampler {
 public:
  // params must have passed Validate().
  explicit Sampler(const SamplerParams& params);
  // logits is modified in place (n_vocab entries).
  int32_t Sample(float* logits, int64_t n_vocab);
  // Records a token (prompt or generated) for the penalties.
  void Accept(int32_t id);

 private:
  void ApplyPenalties(float* logits, int64_t n_vocab);
  void TopK(const float* logits, int64_t n_vocab, int64_t k);  // fills candidates_, sorted
  void TopP(float p);
  double SortTopMass(float max, float p);
  void MinP(float p);
  int32_t Draw();
  float MaxLogit() const;
  double Weigh(float max, float scale);

  SamplerParams params_;
  std::mt19937_64 rng_;
  std::deque<int32_t> recent_;
  std::vector<std::pair<float, int32_t>> candidates_;  // (logit, id)
  std::vector<float> weights_;  // exp of the candidates' scaled logits, same order
  int64_t sorted_ = 0;          // candidates_[0, sorted_) are the best, in order
  std::vector<int32_t> counts_; // (n_vocab) zero between calls: occurrences while penalizing
};

}  // namespace leanlm
