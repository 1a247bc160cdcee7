// Perplexity of a model on a text, in llama.cpp's chunks or per document
// (eval/scoring_plan.h). PPL = exp(mean NLL per predicted token), natural log.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "eval/scoring_plan.h"
#include "runtime/model.h"

namespace leanlm {

struct PerplexityOptions : ScoringOptions {
  bool show_progress = true;
  // Called after each sequence's forward with its index in the plan and its
  // n × n_vocab logits (e.g. to save them); an error stops the evaluation.
  std::function<Status(int64_t index, const std::vector<int32_t>& tokens, const float* logits)> on_logits;
};

struct PerplexityResult {
  int64_t n_sequences = 0;    // chunks or documents scored
  int64_t n_predicted = 0;    // tokens scored
  int64_t n_truncated = 0;    // documents cut to n_ctx
  double total_nll = 0;       // sum of -log p(token | prefix)
  double mean_nll = 0;
  double nll_stderr = 0;      // standard error of the mean NLL
  double ppl = 0;
  double ppl_stderr = 0;      // first-order: ppl * nll_stderr
};

Result<PerplexityResult> ComputePerplexity(Model& model, ThreadPool& pool, const std::string& text,
                                           const PerplexityOptions& options);
// Scores a plan made already (its own n_ctx and mode; the options' are not used).
Result<PerplexityResult> ScorePerplexity(Model& model, ThreadPool& pool, const ScoringPlan& plan,
                                         const PerplexityOptions& options);

}  // namespace leanlm
