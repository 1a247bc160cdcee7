// Which token sequences a text evaluation runs and which predictions it
// scores, shared by perplexity and model comparison:
//   - chunks (llama.cpp's llama-perplexity): the token stream is cut into
//     chunks of n_ctx, each starts with BOS, and only the second half of each
//     chunk is scored, so every scored token has at least n_ctx/2 of context;
//   - documents: the text is split at a separator, each stripped document is
//     scored on its own from BOS (truncated to n_ctx), every prediction counts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "tokenizer/tokenizer.h"

namespace leanlm {

struct ScoringOptions {
  int64_t n_ctx = 512;
  bool documents = false;  // documents mode (else chunks)
  std::string separator;   // documents mode: split at this string (empty: the whole text is one document)
};

struct ScoringPlan {
  // Each runs from position 0; the logit rows first .. n-2 predict tokens
  // first+1 .. n-1, and those predictions are scored.
  std::vector<std::vector<int32_t>> sequences;
  int64_t first = 0;        // n_ctx/2 for chunks, 0 for documents
  int64_t n_ctx = 0;
  bool documents = false;
  int64_t n_truncated = 0;  // documents cut to n_ctx
  // Chunks: the n_chunk * n_ctx tokens of the text as tokenized, before each
  // chunk's first token is replaced by BOS (what llama.cpp's logits file holds).
  std::vector<int32_t> stream;

  int64_t n_scored() const;  // predictions scored over all sequences
};

// Tokenizes the text (BOS as the vocabulary asks) and plans its sequences.
// Errors: n_ctx < 2, no full chunk, no document of 2 tokens or more.
Result<ScoringPlan> PlanScoring(const Tokenizer& tokenizer, const std::string& text, const ScoringOptions& options);

// llama.cpp's chunks of an already tokenized stream of n_chunk * n_ctx tokens;
// bos < 0 keeps each chunk's first token.
ScoringPlan PlanChunks(std::vector<int32_t> stream, int64_t n_ctx, int32_t bos);

// The text split at `separator` (empty: one document), each stripped of
// surrounding white space; empty documents are dropped.
std::vector<std::string> SplitDocuments(const std::string& text, const std::string& separator);

}  // namespace leanlm
