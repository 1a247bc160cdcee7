// Comparing a model Q with a base model on a text, as llama.cpp's
// `llama-perplexity --kl-divergence` does (statistics in eval/compare_stats.h):
//   - side by side: both models run over the same tokens, chunk by chunk (or
//     document by document), and only the scored positions are compared, so
//     nothing large is saved; the base distribution is exact;
//   - through llama.cpp's base-logits file: one run writes the base model's
//     quantized log-probabilities, a later run compares a model with them.
//     The files are byte-compatible with llama-perplexity's.
#pragma once

#include <string>

#include "eval/compare_stats.h"
#include "eval/perplexity.h"
#include "eval/scoring_plan.h"
#include "runtime/model.h"

namespace leanlm {

struct CompareOptions : ScoringOptions {
  bool show_progress = true;
};

// Both models must share the vocabulary (same n_vocab, same token texts).
Status CheckSameVocabulary(Model& base, Model& model);

// Runs both models over the base tokenizer's tokens of `text`.
Result<CompareResult> CompareModels(Model& base, Model& model, ThreadPool& pool, const std::string& text,
                                    const CompareOptions& options);

// Perplexity of `base` on the text's chunks of n_ctx (llama.cpp's
// convention), writing the base-logits file at `path` as it goes.
Result<PerplexityResult> WriteKlDivergenceBase(Model& base, ThreadPool& pool, const std::string& text,
                                               int64_t n_ctx, const std::string& path, bool show_progress = true);

// Runs `model` over the tokens stored in the base-logits file and compares
// it with the stored base log-probabilities. The file's n_vocab must be the
// model's.
Result<CompareResult> CompareWithKlDivergenceBase(Model& model, ThreadPool& pool, const std::string& path,
                                                  bool show_progress = true);

}  // namespace leanlm
