#include "eval/scoring_plan.h"

#include <algorithm>

namespace leanlm {
namespace {

std::string Strip(const std::string& s) {
  const char* ws = " \t\r\n";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

}  // namespace

int64_t ScoringPlan::n_scored() const {
  int64_t n = 0;
  for (const auto& s : sequences) n += std::max<int64_t>(0, static_cast<int64_t>(s.size()) - 1 - first);
  return n;
}

std::vector<std::string> SplitDocuments(const std::string& text, const std::string& separator) {
  std::vector<std::string> docs;
  if (separator.empty()) {
    docs.push_back(Strip(text));
  } else {
    size_t start = 0;
    for (;;) {
      const size_t at = text.find(separator, start);
      docs.push_back(Strip(text.substr(start, at == std::string::npos ? std::string::npos : at - start)));
      if (at == std::string::npos) break;
      start = at + separator.size();
    }
  }
  docs.erase(std::remove(docs.begin(), docs.end(), std::string()), docs.end());
  return docs;
}

ScoringPlan PlanChunks(std::vector<int32_t> stream, int64_t n_ctx, int32_t bos) {
  ScoringPlan plan;
  plan.n_ctx = n_ctx;
  plan.first = n_ctx / 2;
  const int64_t n_chunks = static_cast<int64_t>(stream.size()) / n_ctx;
  stream.resize(static_cast<size_t>(n_chunks * n_ctx));
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::vector<int32_t> chunk(stream.begin() + c * n_ctx, stream.begin() + (c + 1) * n_ctx);
    if (bos >= 0) chunk[0] = bos;
    plan.sequences.push_back(std::move(chunk));
  }
  plan.stream = std::move(stream);
  return plan;
}

Result<ScoringPlan> PlanScoring(const Tokenizer& tokenizer, const std::string& text, const ScoringOptions& options) {
  const int64_t n_ctx = options.n_ctx;
  if (n_ctx < 2) return Status::Error("context must be at least 2 tokens");
  if (options.documents) {
    const std::vector<std::string> docs = SplitDocuments(text, options.separator);
    if (docs.empty()) return Status::Error("no documents: the text is empty");
    ScoringPlan plan;
    plan.documents = true;
    plan.n_ctx = n_ctx;
    for (const std::string& doc : docs) {
      std::vector<int32_t> tokens = tokenizer.Encode(doc, /*add_special=*/true, /*parse_special=*/false);
      if (static_cast<int64_t>(tokens.size()) > n_ctx) {
        tokens.resize(static_cast<size_t>(n_ctx));
        ++plan.n_truncated;
      }
      if (tokens.size() >= 2) plan.sequences.push_back(std::move(tokens));
    }
    if (plan.sequences.empty()) return Status::Error("nothing to score: every document is shorter than 2 tokens");
    return plan;
  }
  std::vector<int32_t> all = tokenizer.Encode(text, /*add_special=*/true, /*parse_special=*/false);
  if (static_cast<int64_t>(all.size()) < n_ctx) {
    return Status::Error("the text has " + std::to_string(all.size()) + " tokens, fewer than one chunk of " +
                         std::to_string(n_ctx) + ": use a smaller --ctx, or --docs to score documents whole");
  }
  const int32_t bos = tokenizer.vocab().add_bos ? tokenizer.bos() : -1;
  return PlanChunks(std::move(all), n_ctx, bos);
}

}  // namespace leanlm
