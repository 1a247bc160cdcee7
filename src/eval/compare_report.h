// A comparison's figures as text (laid out like llama.cpp's
// llama-perplexity --kl-divergence summary) or as one JSON object.
#pragma once

#include <string>

#include "eval/compare_stats.h"

namespace leanlm {

std::string CompareReportText(const CompareResult& result);
// Keys: mode, n_ctx, sequences, scored_tokens, truncated, base_floored, ppl, ppl_base,
// mean_nll, mean_nll_base, log_ppl_correlation, log_ppl_ratio, ppl_ratio,
// ppl_diff, kld {mean, quantiles}, p_diff {mean, rms, quantiles}, same_top;
// estimates are {"value", "error"}, quantiles {"max", "99.9", ..., "median",
// ..., "min"}; a non-finite number is null.
std::string CompareReportJson(const CompareResult& result);

}  // namespace leanlm
