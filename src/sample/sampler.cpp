#include "sample/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "ops/vec.h"

namespace leanlm {
namespace {

using Candidate = std::pair<float, int32_t>;  // (logit, id)

// Ranking of candidates: higher logit first, lower id on ties, so every
// stage is deterministic. A function object, so the sorts inline it.
constexpr struct {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  }
} Better;

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

// Keeps the k best (all when k == n_vocab). With k < n_vocab a heap of the k
// best so far scans the logits once, most of them rejected by one compare,
// and only the survivors are sorted: O(n_vocab + k log k).
void Sampler::TopK(const float* logits, int64_t n_vocab, int64_t k) {
  candidates_.clear();
  sorted_ = 0;
  if (k >= n_vocab) {
    for (int64_t id = 0; id < n_vocab; ++id) candidates_.emplace_back(Clean(logits[id]), static_cast<int32_t>(id));
    return;
  }
  // Under Better as "less", the heap's front is the worst candidate kept.
  for (int64_t id = 0; id < n_vocab; ++id) {
    const bool full = static_cast<int64_t>(candidates_.size()) == k;
    if (full && !(logits[id] > candidates_.front().first)) continue;  // ids ascend: a tie loses
    const Candidate c(Clean(logits[id]), static_cast<int32_t>(id));
    if (!full) {
      candidates_.push_back(c);
      if (static_cast<int64_t>(candidates_.size()) == k) std::make_heap(candidates_.begin(), candidates_.end(), Better);
    } else {
      std::pop_heap(candidates_.begin(), candidates_.end(), Better);
      candidates_.back() = c;
      std::push_heap(candidates_.begin(), candidates_.end(), Better);
    }
  }
  std::sort(candidates_.begin(), candidates_.end(), Better);
  sorted_ = k;
}

// Keeps the shortest best-first prefix whose probability (softmax over the
// current candidates, as llama.cpp normalizes after top-k) reaches p.
void Sampler::TopP(float p) {
  const int64_t size = static_cast<int64_t>(candidates_.size());
  const float max = MaxLogit();
  if (max == -std::numeric_limits<float>::infinity()) return;  // nothing to weigh
  const double sum = sorted_ < size ? SortTopMass(max, p) : Weigh(max, 1.0f);
  const double target = static_cast<double>(p) * sum;
  double cum = 0;
  int64_t i = 0;
  while (i < sorted_) {
    cum += vec::Exp(candidates_[static_cast<size_t>(i)].first - max);
    ++i;
    if (cum >= target) break;
  }
  candidates_.resize(static_cast<size_t>(i));
  sorted_ = i;
}

// Sorts just enough of an unsorted candidate list to hold the top-p prefix
// (llama.cpp sorts it all): a histogram of probability mass by distance from
// the best logit finds the cut-off, the candidates above it move to the
// front and only they are sorted. Returns the total mass (sum of exp(l - max)).
double Sampler::SortTopMass(float max, float p) {
  constexpr int kBuckets = 64;
  constexpr float kPerNat = 2;  // bucket b holds logits in (max - (b+1)/2, max - b/2]
  double mass[kBuckets] = {};
  auto bucket = [&](float logit) {
    const float below = max - logit;
    return below < (kBuckets - 1) / kPerNat ? static_cast<int>(below * kPerNat) : kBuckets - 1;
  };
  const double sum = Weigh(max, 1.0f);
  for (size_t i = 0; i < candidates_.size(); ++i) mass[bucket(candidates_[i].first)] += weights_[i];
  const double target = static_cast<double>(p) * sum;
  int last = 0;
  for (double cum = mass[0]; cum < target && last < kBuckets - 1;) cum += mass[++last];
  const auto end = std::partition(candidates_.begin(), candidates_.end(),
                                  [&](const Candidate& c) { return bucket(c.first) <= last; });
  std::sort(candidates_.begin(), end, Better);
  sorted_ = end - candidates_.begin();
  return sum;
}

// Keeps candidates whose probability is at least p times the largest, i.e.
// logit >= max + log(p).
void Sampler::MinP(float p) {
  const float max = MaxLogit();
  const float threshold = std::min(max, max + std::log(p));  // the best always stays
  // remove_if keeps order; the sorted prefix holds the best, so whatever of
  // it survives is still a sorted prefix.
  const auto end = std::remove_if(candidates_.begin(), candidates_.end(),
                                  [threshold](const Candidate& c) { return c.first < threshold; });
  candidates_.erase(end, candidates_.end());
  sorted_ = std::min<int64_t>(sorted_, static_cast<int64_t>(candidates_.size()));
}

// Softmax of logit / temperature over the candidates, then one uniform draw.
int32_t Sampler::Draw() {
  const float max = MaxLogit();
  // All -inf: the first candidate is the best-ranked or, unsorted, the lowest id.
  if (max == -std::numeric_limits<float>::infinity()) return candidates_[0].second;
  const double sum = Weigh(max, 1.0f / params_.temperature);
  // 53 random bits -> u in [0, 1), the same on every platform.
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * sum;
  double cum = 0;
  for (size_t i = 0; i < candidates_.size(); ++i) {
    cum += weights_[i];
    if (u < cum) return candidates_[i].second;
  }
  return candidates_.back().second;  // u within rounding of sum
}

// weights_[i] = exp((logit_i - max) * scale); returns their sum. Eight at a
// time through a local array, so the exponentials vectorize.
double Sampler::Weigh(float max, float scale) {
  const size_t n = candidates_.size();
  if (weights_.size() < n) weights_.resize(n);
  double sum = 0;
  size_t i = 0;
  for (; i + vec::kBlock <= n; i += vec::kBlock) {
    float x[vec::kBlock], e[vec::kBlock];
    for (int64_t j = 0; j < vec::kBlock; ++j) x[j] = (candidates_[i + j].first - max) * scale;
    for (int64_t j = 0; j < vec::kBlock; ++j) e[j] = vec::Exp(x[j]);
    for (int64_t j = 0; j < vec::kBlock; ++j) {
      weights_[i + j] = e[j];
      sum += e[j];
    }
  }
  for (; i < n; ++i) sum += weights_[i] = vec::Exp((candidates_[i].first - max) * scale);
  return sum;
}

float Sampler::MaxLogit() const {
  if (sorted_ > 0) return candidates_[0].first;
  float max = -std::numeric_limits<float>::infinity();
  for (const Candidate& c : candidates_) max = std::max(max, c.first);
  return max;
}

int32_t Sampler::Sample(float* logits, int64_t n_vocab) {
  LEANLM_CHECK(n_vocab > 0);
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
