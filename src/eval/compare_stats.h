// How far a model Q is from a base model over scored token positions, with
// the definitions of llama.cpp's `llama-perplexity --kl-divergence`
// (examples/perplexity/perplexity.cpp, tag b4747):
//   - NLL = -log p(token) for each model; PPL = exp(mean NLL);
//   - KLD = Σ_i p_base(i) · (log p_base(i) - log p_Q(i)), nats, per position;
//   - Δp = p_Q(token) - p_base(token);
//   - same top = the two most likely tokens (first on ties) agree;
//   - errors are standard errors of the mean, llama.cpp's way (0 for 10
//     positions or fewer); quantiles interpolate linearly between sorted values.
// Log-softmax is in double precision.
#pragma once

#include <cstdint>
#include <vector>

namespace leanlm {

struct Estimate {
  double value = 0;
  double error = 0;  // standard error
};

struct Quantile {
  double fraction = 0;  // 1: maximum, 0.5: median, 0: minimum
  double value = 0;
};

struct CompareResult {
  bool documents = false;
  int64_t n_ctx = 0;
  int64_t n_sequences = 0;  // chunks or documents
  int64_t n_scored = 0;     // positions scored
  int64_t n_truncated = 0;  // documents cut to n_ctx
  // Base-file mode: scored tokens whose base log-probability sat at the
  // file's floor (16 below the row's top logit): their base NLL is only a
  // lower bound, so PPL(base) reads low when there are many.
  int64_t n_base_floored = 0;

  Estimate nll, nll_base;  // mean NLL per scored token, of Q and of the base
  Estimate ppl, ppl_base;
  double log_ppl_correlation = 0;  // Cor(ln PPL(Q), ln PPL(base)); NaN when an error is 0
  Estimate log_ppl_ratio;          // ln(PPL(Q) / PPL(base))
  Estimate ppl_ratio;              // PPL(Q) / PPL(base)
  Estimate ppl_diff;               // PPL(Q) - PPL(base)

  Estimate kld;  // mean KL(base || Q)
  std::vector<Quantile> kld_quantiles;

  Estimate p_diff;  // mean Δp
  Estimate p_diff_rms;
  std::vector<Quantile> p_diff_quantiles;

  Estimate same_top;  // fraction of positions whose most likely tokens agree
};

// One scored position.
struct PositionStats {
  double nll = 0, nll_base = 0, kld = 0, p_diff = 0;
  bool same_top = false;
  bool base_floored = false;
};

// The position's figures from the two models' logits (n_vocab each).
PositionStats ComparePosition(const float* base_logits, const float* logits, int64_t n_vocab, int32_t target);

// The same from a base row of llama.cpp's logits file (eval/compare_logits_file.h):
// log p_base(i) = scale · level[i] + min_log_prob in float, as llama.cpp
// decodes it, and like llama.cpp the KLD leaves out the terms with
// log p_base ≤ -16 (the row's floor, where levels are clipped).
PositionStats ComparePositionQuantized(float scale, float min_log_prob, const uint16_t* levels, const float* logits,
                                       int64_t n_vocab, int32_t target);

// Sums positions in the order added (so results do not depend on threads).
class CompareAccumulator {
 public:
  void Add(const PositionStats& s);
  int64_t count() const { return count_; }
  double mean_kld() const { return count_ ? sum_kld_ / static_cast<double>(count_) : 0; }
  // Everything but the sequence counts and mode.
  void Finish(CompareResult& result) const;

 private:
  double sum_nll_ = 0, sum_nll2_ = 0, sum_nll_base_ = 0, sum_nll_base2_ = 0, sum_nll_nll_base_ = 0;
  double sum_kld_ = 0, sum_kld2_ = 0;
  double sum_p_diff_ = 0, sum_p_diff2_ = 0, sum_p_diff4_ = 0;
  int64_t n_same_top_ = 0, n_base_floored_ = 0, count_ = 0;
  std::vector<double> kld_values_, p_diff_values_;
};

// The quantiles reported: KLD max, 99.9%, 99%, 95%, 90%, median, 10%, 5%, 1%, min;
// Δp also 75% and 25% and 0.1%.
const std::vector<double>& KldQuantileFractions();
const std::vector<double>& PDiffQuantileFractions();

}  // namespace leanlm
