#include "eval/compare_report.h"

#include <cmath>
#include <cstdarg>
#include <cstdio>

namespace leanlm {
namespace {

void Append(std::string& out, const char* format, ...) __attribute__((format(printf, 2, 3)));
void Append(std::string& out, const char* format, ...) {
  char buf[256];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buf, sizeof(buf), format, args);
  va_end(args);
  out += buf;
}

std::string QuantileLabel(double fraction) {
  if (fraction >= 1) return "Maximum";
  if (fraction <= 0) return "Minimum";
  if (fraction == 0.5) return "Median";
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%4.1f%%", 100 * fraction);
  return buf;
}

std::string QuantileKey(double fraction) {
  if (fraction >= 1) return "max";
  if (fraction <= 0) return "min";
  if (fraction == 0.5) return "median";
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%g", 100 * fraction);
  return buf;
}

std::string JsonNumber(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

std::string JsonEstimate(const Estimate& e) {
  return "{\"value\": " + JsonNumber(e.value) + ", \"error\": " + JsonNumber(e.error) + "}";
}

std::string JsonQuantiles(const std::vector<Quantile>& qs) {
  std::string out = "{";
  for (size_t i = 0; i < qs.size(); ++i) {
    out += (i ? ", \"" : "\"") + QuantileKey(qs[i].fraction) + "\": " + JsonNumber(qs[i].value);
  }
  return out + "}";
}

}  // namespace

std::string CompareReportText(const CompareResult& r) {
  std::string out;
  if (r.documents) {
    Append(out, "documents: %lld, scored tokens: %lld", static_cast<long long>(r.n_sequences),
           static_cast<long long>(r.n_scored));
    if (r.n_truncated) Append(out, ", truncated to %lld tokens: %lld", static_cast<long long>(r.n_ctx),
                              static_cast<long long>(r.n_truncated));
    out += "\n\n";
  } else {
    Append(out, "chunks: %lld of %lld tokens (second halves scored), scored tokens: %lld\n\n",
           static_cast<long long>(r.n_sequences), static_cast<long long>(r.n_ctx), static_cast<long long>(r.n_scored));
  }
  if (r.n_base_floored) {
    Append(out, "note: %lld scored tokens are at the base file's floor (log p <= top - 16): PPL(base) reads low\n\n",
           static_cast<long long>(r.n_base_floored));
  }
  out += "====== Perplexity statistics ======\n";
  Append(out, "Mean PPL(Q)                   : %10.6f ± %10.6f\n", r.ppl.value, r.ppl.error);
  Append(out, "Mean PPL(base)                : %10.6f ± %10.6f\n", r.ppl_base.value, r.ppl_base.error);
  Append(out, "Cor(ln(PPL(Q)), ln(PPL(base))): %6.2f%%\n", 100 * r.log_ppl_correlation);
  Append(out, "Mean ln(PPL(Q)/PPL(base))     : %10.6f ± %10.6f\n", r.log_ppl_ratio.value, r.log_ppl_ratio.error);
  Append(out, "Mean PPL(Q)/PPL(base)         : %10.6f ± %10.6f\n", r.ppl_ratio.value, r.ppl_ratio.error);
  Append(out, "Mean PPL(Q)-PPL(base)         : %10.6f ± %10.6f\n", r.ppl_diff.value, r.ppl_diff.error);
  out += "\n====== KL divergence statistics ======\n";
  Append(out, "Mean    KLD: %10.6f ± %10.6f\n", r.kld.value, r.kld.error);
  for (const Quantile& q : r.kld_quantiles) Append(out, "%-7s KLD: %10.6f\n", QuantileLabel(q.fraction).c_str(), q.value);
  out += "\n====== Token probability statistics ======\n";
  Append(out, "Mean    Δp: %6.3f ± %5.3f %%\n", 100 * r.p_diff.value, 100 * r.p_diff.error);
  for (const Quantile& q : r.p_diff_quantiles) {
    Append(out, "%-7s Δp: %6.3f%%\n", QuantileLabel(q.fraction).c_str(), 100 * q.value);
  }
  Append(out, "RMS Δp    : %6.3f ± %5.3f %%\n", 100 * r.p_diff_rms.value, 100 * r.p_diff_rms.error);
  Append(out, "Same top p: %6.3f ± %5.3f %%\n", 100 * r.same_top.value, 100 * r.same_top.error);
  return out;
}

std::string CompareReportJson(const CompareResult& r) {
  std::string out = "{";
  Append(out, "\"mode\": \"%s\", \"n_ctx\": %lld, \"sequences\": %lld, \"scored_tokens\": %lld, \"truncated\": %lld, "
         "\"base_floored\": %lld, ",
         r.documents ? "documents" : "chunks", static_cast<long long>(r.n_ctx), static_cast<long long>(r.n_sequences),
         static_cast<long long>(r.n_scored), static_cast<long long>(r.n_truncated),
         static_cast<long long>(r.n_base_floored));
  out += "\"ppl\": " + JsonEstimate(r.ppl) + ", \"ppl_base\": " + JsonEstimate(r.ppl_base);
  out += ", \"mean_nll\": " + JsonEstimate(r.nll) + ", \"mean_nll_base\": " + JsonEstimate(r.nll_base);
  out += ", \"log_ppl_correlation\": " + JsonNumber(r.log_ppl_correlation);
  out += ", \"log_ppl_ratio\": " + JsonEstimate(r.log_ppl_ratio) + ", \"ppl_ratio\": " + JsonEstimate(r.ppl_ratio);
  out += ", \"ppl_diff\": " + JsonEstimate(r.ppl_diff);
  out += ", \"kld\": {\"mean\": " + JsonEstimate(r.kld) + ", \"quantiles\": " + JsonQuantiles(r.kld_quantiles) + "}";
  out += ", \"p_diff\": {\"mean\": " + JsonEstimate(r.p_diff) + ", \"rms\": " + JsonEstimate(r.p_diff_rms) +
         ", \"quantiles\": " + JsonQuantiles(r.p_diff_quantiles) + "}";
  out += ", \"same_top\": " + JsonEstimate(r.same_top) + "}\n";
  return out;
}

}  // namespace leanlm
