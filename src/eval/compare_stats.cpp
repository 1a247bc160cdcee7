#include "eval/compare_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace leanlm {
namespace {

struct LogSumExp {
  double lse = 0;   // log Σ exp(logit)
  int32_t top = 0;  // first index of the largest logit
};

LogSumExp ComputeLogSumExp(const float* logits, int64_t n_vocab) {
  LogSumExp r;
  float max = logits[0];
  for (int64_t i = 1; i < n_vocab; ++i) {
    if (logits[i] > max) {
      max = logits[i];
      r.top = static_cast<int32_t>(i);
    }
  }
  double sum = 0;
  for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - max);
  r.lse = max + std::log(sum);
  return r;
}

// llama.cpp's mean_and_uncertainty.
Estimate MeanAndError(double sum, double sum2, int64_t count) {
  if (count < 1) return {};
  const double n = static_cast<double>(count);
  const double mean = sum / n;
  const double var = sum2 / n - mean * mean;
  return {mean, var > 0 && count > 10 ? std::sqrt(var / (n - 1)) : 0.0};
}

// llama.cpp's covariance of the two means.
double CovarianceOfMeans(double sum_a, double sum_b, double sum_ab, int64_t count) {
  if (count < 10) return 0;
  const double n = static_cast<double>(count);
  return (sum_ab / n - (sum_a / n) * (sum_b / n)) / (n - 1);
}

std::vector<Quantile> Quantiles(std::vector<double> values, const std::vector<double>& fractions) {
  std::vector<Quantile> out;
  if (values.empty()) return out;
  std::sort(values.begin(), values.end());
  for (double f : fractions) {
    double v;
    if (f <= 0) {
      v = values.front();
    } else if (f >= 1) {
      v = values.back();
    } else {
      const double p = f * static_cast<double>(values.size() - 1);
      const size_t ip = static_cast<size_t>(p);
      const double t = p - static_cast<double>(ip);
      v = (1 - t) * values[ip] + t * values[std::min(ip + 1, values.size() - 1)];
    }
    out.push_back({f, v});
  }
  return out;
}

double SqrtNonNegative(double x) { return std::sqrt(std::max(0.0, x)); }

}  // namespace

PositionStats ComparePosition(const float* base_logits, const float* logits, int64_t n_vocab, int32_t target) {
  const LogSumExp b = ComputeLogSumExp(base_logits, n_vocab);
  const LogSumExp q = ComputeLogSumExp(logits, n_vocab);
  PositionStats s;
  for (int64_t i = 0; i < n_vocab; ++i) {
    const double log_p_base = static_cast<double>(base_logits[i]) - b.lse;
    const double log_p = static_cast<double>(logits[i]) - q.lse;
    s.kld += std::exp(log_p_base) * (log_p_base - log_p);
  }
  s.nll_base = b.lse - base_logits[target];
  s.nll = q.lse - logits[target];
  s.p_diff = std::exp(-s.nll) - std::exp(-s.nll_base);
  s.same_top = b.top == q.top;
  return s;
}

PositionStats ComparePositionQuantized(float scale, float min_log_prob, const uint16_t* levels, const float* logits,
                                       int64_t n_vocab, int32_t target) {
  const LogSumExp q = ComputeLogSumExp(logits, n_vocab);
  PositionStats s;
  int64_t top_base = 0;
  float max_log_p_base = 0;
  for (int64_t i = 0; i < n_vocab; ++i) {
    const float log_p_base = scale * static_cast<float>(levels[i]) + min_log_prob;
    if (i == 0 || log_p_base > max_log_p_base) {
      max_log_p_base = log_p_base;
      top_base = i;
    }
    if (log_p_base > -16.0f) {
      const double log_p = static_cast<double>(logits[i]) - q.lse;
      s.kld += std::exp(static_cast<double>(log_p_base)) * (log_p_base - log_p);
    }
  }
  s.nll_base = -static_cast<double>(scale * static_cast<float>(levels[target]) + min_log_prob);
  s.base_floored = levels[target] == 0 && scale * 65535.0f > 15.99f;  // clipped rows span 16
  s.nll = q.lse - logits[target];
  s.p_diff = std::exp(-s.nll) - std::exp(-s.nll_base);
  s.same_top = top_base == q.top;
  return s;
}

void CompareAccumulator::Add(const PositionStats& s) {
  sum_nll_ += s.nll;
  sum_nll2_ += s.nll * s.nll;
  sum_nll_base_ += s.nll_base;
  sum_nll_base2_ += s.nll_base * s.nll_base;
  sum_nll_nll_base_ += s.nll * s.nll_base;
  sum_kld_ += s.kld;
  sum_kld2_ += s.kld * s.kld;
  const double d2 = s.p_diff * s.p_diff;
  sum_p_diff_ += s.p_diff;
  sum_p_diff2_ += d2;
  sum_p_diff4_ += d2 * d2;
  n_same_top_ += s.same_top;
  n_base_floored_ += s.base_floored;
  ++count_;
  kld_values_.push_back(s.kld);
  p_diff_values_.push_back(s.p_diff);
}

void CompareAccumulator::Finish(CompareResult& r) const {
  const int64_t n = count_;
  r.n_scored = n;
  r.n_base_floored = n_base_floored_;
  r.nll = MeanAndError(sum_nll_, sum_nll2_, n);
  r.nll_base = MeanAndError(sum_nll_base_, sum_nll_base2_, n);
  r.ppl = {std::exp(r.nll.value), std::exp(r.nll.value) * r.nll.error};
  r.ppl_base = {std::exp(r.nll_base.value), std::exp(r.nll_base.value) * r.nll_base.error};

  const double cov = CovarianceOfMeans(sum_nll_, sum_nll_base_, sum_nll_nll_base_, n);
  const double error_product = r.nll.error * r.nll_base.error;
  r.log_ppl_correlation = error_product > 0 ? cov / error_product : std::numeric_limits<double>::quiet_NaN();
  // llama.cpp's error of the difference, sqrt(se² + se_base² - 2 cov), from the
  // sums directly, so that identical models give exactly 0.
  const double diff = r.nll.value - r.nll_base.value;
  const double n_d = static_cast<double>(n);
  const double var_diff = (sum_nll2_ + sum_nll_base2_ - 2 * sum_nll_nll_base_) / n_d - diff * diff;
  r.log_ppl_ratio = {diff, n > 10 ? SqrtNonNegative(var_diff / (n_d - 1)) : 0.0};
  const double ratio = std::exp(r.log_ppl_ratio.value);
  r.ppl_ratio = {ratio, ratio * r.log_ppl_ratio.error};
  const double ppl_cov = r.ppl.value * r.ppl_base.value * cov;
  r.ppl_diff = {r.ppl.value - r.ppl_base.value,
                SqrtNonNegative(r.ppl.error * r.ppl.error + r.ppl_base.error * r.ppl_base.error - 2 * ppl_cov)};

  r.kld = MeanAndError(sum_kld_, sum_kld2_, n);
  r.kld_quantiles = Quantiles(kld_values_, KldQuantileFractions());

  r.p_diff = MeanAndError(sum_p_diff_, sum_p_diff2_, n);
  const Estimate mse = MeanAndError(sum_p_diff2_, sum_p_diff4_, n);
  const double rms = std::sqrt(mse.value);
  r.p_diff_rms = {rms, rms > 0 ? 0.5 / rms * mse.error : 0.0};
  r.p_diff_quantiles = Quantiles(p_diff_values_, PDiffQuantileFractions());

  if (n > 0) {
    const double same = static_cast<double>(n_same_top_) / static_cast<double>(n);
    r.same_top = {same, n > 1 ? std::sqrt(same * (1 - same) / static_cast<double>(n - 1)) : 0.0};
  }
}

const std::vector<double>& KldQuantileFractions() {
  static const std::vector<double> kFractions = {1.0, 0.999, 0.99, 0.95, 0.90, 0.5, 0.10, 0.05, 0.01, 0.0};
  return kFractions;
}

const std::vector<double>& PDiffQuantileFractions() {
  static const std::vector<double> kFractions = {1.0,  0.999, 0.99, 0.95, 0.90,  0.75, 0.5,
                                                 0.25, 0.10,  0.05, 0.01, 0.001, 0.0};
  return kFractions;
}

}  // namespace leanlm
