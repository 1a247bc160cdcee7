// A toy objective for the training loop: linear regression from token ids.
// Each labelled position i predicts
//   p = w[t % d] + 0.5 * w[(7t + 3) % d] + b,   t = tokens[i],
// for the target 0.01 * labels[i]; the loss is the mean squared error over
// the batch's labelled positions, plus noise_scale * u * sum(w) with u drawn
// from the batch seed (standing in for dropout: a resumed run must draw the
// same). The gradients are exact, written out by hand.
#pragma once

#include <cmath>
#include <vector>

#include "train/data_loader.h"
#include "train/trainer.h"

namespace leanlm::testing {

class ToyObjective : public Objective {
 public:
  explicit ToyObjective(int d, double noise_scale = 0.0) : w_(static_cast<size_t>(d)), gw_(w_.size()),
                                                            noise_scale_(noise_scale) {
    for (int i = 0; i < d; ++i) w_[i] = 0.1f * static_cast<float>((i * 37) % 11) - 0.5f;
  }

  std::vector<TrainParam> Params() override {
    return {{"w", w_.data(), gw_.data(), static_cast<int64_t>(w_.size()), false, {}},
            {"b", &b_, &gb_, 1, true, {}}};
  }

  Result<float> ForwardBackward(const Batch& batch) override {
    ++calls_;
    if (calls_ == nan_at_call_) return NAN;
    const auto [loss, n] = Loss(batch, true);
    if (noise_scale_ != 0) {
      const float u = static_cast<float>(TrainRng(batch.seed).Uniform());
      float sum = 0;
      for (size_t j = 0; j < w_.size(); ++j) {
        sum += w_[j];
        gw_[j] += static_cast<float>(noise_scale_) * u;
      }
      return loss + static_cast<float>(noise_scale_) * u * sum;
    }
    return loss;
  }

  Result<float> Evaluate(const Batch& batch) override { return Loss(batch, false).first; }

  std::vector<float> w_;
  float b_ = 0.25f;
  std::vector<float> gw_;
  float gb_ = 0;
  double noise_scale_;
  int calls_ = 0;
  int nan_at_call_ = -1;

 private:
  std::pair<float, int64_t> Loss(const Batch& batch, bool backward) {
    const int64_t d = static_cast<int64_t>(w_.size());
    const float inv = 1.0f / static_cast<float>(batch.loss_tokens);
    float loss = 0;
    for (const Sequence* s : batch.sequences) {
      for (size_t i = 0; i < s->tokens.size(); ++i) {
        if (s->labels[i] < 0) continue;
        const int64_t t = s->tokens[i];
        const int64_t a = t % d, c = (7 * t + 3) % d;
        const float err = w_[a] + 0.5f * w_[c] + b_ - 0.01f * static_cast<float>(s->labels[i]);
        loss += err * err * inv;
        if (backward) {
          const float g = 2.0f * err * inv;
          gw_[a] += g;
          gw_[c] += 0.5f * g;
          gb_ += g;
        }
      }
    }
    return {loss, batch.loss_tokens};
  }
};

// n sequences of `len` positions with learnable labels (a function of the token).
inline std::vector<Sequence> ToySequences(int n, int len, uint64_t seed) {
  TrainRng rng(seed);
  std::vector<Sequence> out;
  for (int k = 0; k < n; ++k) {
    Sequence s;
    for (int i = 0; i < len; ++i) {
      const int32_t t = static_cast<int32_t>(rng.Below(100));
      s.tokens.push_back(t);
      s.labels.push_back(i == 0 ? -1 : 2 * (t % 16) + 10);
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace leanlm::testing
