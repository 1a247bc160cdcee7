#include "sample/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace leanlm {
namespace {

using Candidate = std::pair<float, int32_t>;  // (logit, id)

// Ranking of candidates: higher logit first, lower id on ties, so every
// stage is deterministic.
bool Better(const Candidate& a, const Candidate& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

// NaN would break the orderings (and std::sort with it); it counts as -inf.
float Clean(float logit) { return std::isnan(logit) ? -std::numeric_limits<float>::infinity() : logit; }

Status Bad(const std::string& what) { return Status::Error("sampler: " + what); }

}  // namespace

Status SamplerParams::Validate() const {
  if (!std::isfinite(temperature) || temperature < 0) return Bad("temperature must be >= 0");
  if (top_k < 0) return Bad("top_k must be >= 0 (0 = off)");
  if (!(top_p >= 0 && top_p <= 1)) return Bad("top_p must be in [0, 1]");
  if (!(min_p >= 0 && min_p <= 1)) return Bad("min_p must be in [0, 1]");
  if (!std::isfinite(repeat_penalty) || repeat_penalty <= 0) return Bad("repeat_penalty must be > 0");
  if (!std::isfinite(presence_penalty)) return Bad("presence_penalty must be finite");
  if (!std::isfinite(frequency_penalty)) return Bad("frequency_penalty must be finite");
  if (penalty_last_n < 0) return Bad("penalty_last_n must be >= 0");
  return Status::Ok();
}

Sampler::Sampler(const SamplerParams& params) : params_(params), rng_(params.seed) {}

void Sampler::Accept(int32_t id) {
  if (params_.penalty_last_n <= 0) return;
  recent_.push_back(id);
  if (static_cast<int64_t>(recent_.size()) > params_.penalty_last_n) recent_.pop_front();
}

// llama.cpp's penalties: a token seen c > 0 times in the window has its logit
// divided by repeat_penalty when positive (multiplied when not), then lowered
// by c * frequency_penalty + presence_penalty.
void Sampler::ApplyPenalties(float* logits, int64_t n_vocab) {
  const SamplerParams& p = params_;
  if (recent_.empty() || (p.repeat_penalty == 1.0f && p.frequency_penalty == 0.0f && p.presence_penalty == 0.0f)) {
    return;
  }
  if (static_cast<int64_t>(counts_.size()) < n_vocab) counts_.resize(static_cast<size_t>(n_vocab));
  for (int32_t id : recent_) {
    if (id >= 0 && id < n_vocab) ++counts_[static_cast<size_t>(id)];
  }
  for (int32_t id : recent_) {
    if (id < 0 || id >= n_vocab || counts_[static_cast<size_t>(id)] == 0) continue;
    const int32_t count = std::exchange(counts_[static_cast<size_t>(id)], 0);  // once per id; leaves zeros
    float& l = logits[id];
    l = l <= 0 ? l * p.repeat_penalty : l / p.repeat_penalty;
    l -= static_cast<float>(count) * p.frequency_penalty + p.presence_penalty;
  }
}

// Keeps the k best (all when k == n_vocab). With k < n_vocab a heap of k
// scans the logits once and the survivors are sorted: O(n_vocab + k log k).
void Sampler::TopK(const float* logits, int64_t n_vocab, int64_t k) {
  candidates_.clear();
  if (k >= n_vocab) {
    for (int64_t id = 0; id < n_vocab; ++id) candidates_.emplace_back(Clean(logits[id]), static_cast<int32_t>(id));
    sorted_ = 0;
    return;
  }
  // Under Better as "less", the heap's top is the worst kept candidate.
  for (int64_t id = 0; id < n_vocab; ++id) {
    const Candidate c(Clean(logits[id]), static_cast<int32_t>(id));
    if (static_cast<int64_t>(candidates_.size()) < k) {
      candidates_.push_back(c);
      if (static_cast<int64_t>(candidates_.size()) == k) std::make_heap(candidates_.begin(), candidates_.end(), Better);
    } else if (Better(c, candidates_.front())) {
      std::pop_heap(candidates_.begin(), candidates_.end(), Better);
      candidates_.back() = c;
      std::push_heap(candidates_.begin(), candidates_.end(), Better);
    }
  }
  std::sort(candidates_.begin(), candidates_.end(), Better);
  sorted_ = k;
}

// Keeps the shortest best-first prefix whose probability (softmax over the
// current candidates) reaches p. Without top-k the order is found a growing
// slice at a time, so a 128k vocabulary is not fully sorted.
void Sampler::TopP(float p) {
  const int64_t size = static_cast<int64_t>(candidates_.size());
  float max = -std::numeric_limits<float>::infinity();
  for (const Candidate& c : candidates_) max = std::max(max, c.first);
  if (max == -std::numeric_limits<float>::infinity()) return;  // nothing to weigh
  double sum = 0;
  for (const Candidate& c : candidates_) sum += std::exp(static_cast<double>(c.first - max));
  const double target = static_cast<double>(p) * sum;
  double cum = 0;
  int64_t i = 0;
  while (i < size) {
    if (i == sorted_) {
      const int64_t m = std::min(size, std::max<int64_t>(64, 4 * sorted_));
      const auto first = candidates_.begin() + sorted_, mid = candidates_.begin() + m;
      std::nth_element(first, mid, candidates_.end(), Better);
      std::sort(first, mid, Better);
      sorted_ = m;
    }
    cum += std::exp(static_cast<double>(candidates_[static_cast<size_t>(i)].first - max));
    ++i;
    if (cum >= target) break;
  }
  candidates_.resize(static_cast<size_t>(i));
  sorted_ = std::min(sorted_, i);
}

// Keeps candidates whose probability is at least p times the largest, i.e.
// logit >= max + log(p).
void Sampler::MinP(float p) {
  float max = -std::numeric_limits<float>::infinity();
  for (const Candidate& c : candidates_) max = std::max(max, c.first);
  const float threshold = max + std::log(p);
  // remove_if keeps order; the sorted prefix holds the best, so whatever of
  // it survives is still a sorted prefix.
  const auto end = std::remove_if(candidates_.begin(), candidates_.end(),
                                  [threshold](const Candidate& c) { return c.first < threshold; });
  candidates_.erase(end, candidates_.end());
  sorted_ = std::min<int64_t>(sorted_, static_cast<int64_t>(candidates_.size()));
}

// Softmax of logit / temperature over the candidates, then one uniform draw.
int32_t Sampler::Draw() {
  const Candidate best = *std::min_element(candidates_.begin(), candidates_.end(), Better);
  if (best.first == -std::numeric_limits<float>::infinity()) return best.second;
  const float inv_t = 1.0f / params_.temperature;
  double sum = 0;
  for (Candidate& c : candidates_) {
    c.first = std::exp((c.first - best.first) * inv_t);  // now a weight
    sum += c.first;
  }
  // 53 random bits -> u in [0, 1), the same on every platform.
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * sum;
  double cum = 0;
  for (const Candidate& c : candidates_) {
    cum += c.first;
    if (u < cum) return c.second;
  }
  return candidates_.back().second;  // u within rounding of sum
}

int32_t Sampler::Sample(float* logits, int64_t n_vocab) {
  ApplyPenalties(logits, n_vocab);
  if (params_.temperature <= 0) {
    int64_t best = 0;
    for (int64_t id = 1; id < n_vocab; ++id) {
      if (Clean(logits[id]) > Clean(logits[best])) best = id;
    }
    return static_cast<int32_t>(best);
  }
  const int64_t k = params_.top_k > 0 ? std::min<int64_t>(params_.top_k, n_vocab) : n_vocab;
  TopK(logits, n_vocab, k);
  if (params_.top_p < 1.0f) TopP(params_.top_p);
  if (params_.min_p > 0.0f) MinP(params_.min_p);
  return Draw();
}

}  // namespace leanlm
