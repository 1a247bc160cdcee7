// Perplexity of a model on a text, in two conventions:
//   - chunks (llama.cpp's llama-perplexity): the token stream is cut into
//     chunks of n_ctx, each starts with BOS, and only the second half of each
//     chunk is scored, so every scored token has at least n_ctx/2 of context;
//   - documents: the text is split at a separator, each stripped document is
//     scored on its own from BOS (truncated to n_ctx), every prediction counts.
// PPL = exp(mean NLL per predicted token), natural log.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/model.h"

namespace leanlm {

struct PerplexityOptions {
  int64_t n_ctx = 512;
  bool documents = false;     // documents mode (else chunks)
  std::string separator;      // documents mode: split at this string (empty: the whole text is one document)
  bool show_progress = true;
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

}  // namespace leanlm
