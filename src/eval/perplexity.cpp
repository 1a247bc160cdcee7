#include "eval/perplexity.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "base/progress.h"

namespace leanlm {
namespace {

// Accumulates -log softmax(logits)[target] in double precision.
class NllAccumulator {
 public:
  void Add(const float* logits, int64_t n_vocab, int32_t target) {
    double max = logits[0];
    for (int64_t i = 1; i < n_vocab; ++i) max = std::max<double>(max, logits[i]);
    double sum = 0;
    for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - max);
    const double nll = std::log(sum) + max - logits[target];
    total_ += nll;
    total_sq_ += nll * nll;
    ++count_;
  }
  void Finish(PerplexityResult& r) const {
    r.n_predicted = count_;
    r.total_nll = total_;
    r.mean_nll = count_ ? total_ / count_ : 0;
    if (count_ > 1) {
      const double var = (total_sq_ / count_ - r.mean_nll * r.mean_nll) * count_ / (count_ - 1);
      r.nll_stderr = std::sqrt(std::max(0.0, var) / count_);
    }
    r.ppl = std::exp(r.mean_nll);
    r.ppl_stderr = r.ppl * r.nll_stderr;
  }

 private:
  double total_ = 0, total_sq_ = 0;
  int64_t count_ = 0;
};

std::string Strip(const std::string& s) {
  const char* ws = " \t\r\n";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::vector<std::string> SplitDocuments(const std::string& text, const std::string& sep) {
  std::vector<std::string> docs;
  if (sep.empty()) {
    docs.push_back(Strip(text));
  } else {
    size_t start = 0;
    for (;;) {
      const size_t at = text.find(sep, start);
      docs.push_back(Strip(text.substr(start, at == std::string::npos ? std::string::npos : at - start)));
      if (at == std::string::npos) break;
      start = at + sep.size();
    }
  }
  docs.erase(std::remove(docs.begin(), docs.end(), std::string()), docs.end());
  return docs;
}

}  // namespace

Result<PerplexityResult> ComputePerplexity(Model& model, ThreadPool& pool, const std::string& text,
                                           const PerplexityOptions& options) {
  const Tokenizer& tok = model.tokenizer();
  const int64_t n_vocab = model.config().n_vocab;
  const int64_t n_ctx = options.n_ctx;
  if (n_ctx < 2) return Status::Error("context must be at least 2 tokens");
  KvCache cache(model.config(), n_ctx);
  std::vector<float> logits;
  NllAccumulator acc;
  PerplexityResult result;

  // Runs one sequence from position 0 and scores predictions of tokens[first+1..].
  auto score = [&](const std::vector<int32_t>& tokens, int64_t first) -> Status {
    const int64_t n = static_cast<int64_t>(tokens.size());
    logits.resize(static_cast<size_t>(n * n_vocab));
    LEANLM_RETURN_IF_ERROR(model.llama().Forward(tokens.data(), n, 0, cache, logits.data(), true, pool));
    for (int64_t j = first; j + 1 < n; ++j) acc.Add(logits.data() + j * n_vocab, n_vocab, tokens[j + 1]);
    ++result.n_sequences;
    return Status::Ok();
  };

  if (options.documents) {
    const std::vector<std::string> docs = SplitDocuments(text, options.separator);
    if (docs.empty()) return Status::Error("no documents: the text is empty");
    std::optional<Progress> progress;
    if (options.show_progress) progress.emplace("perplexity", static_cast<int64_t>(docs.size()), "docs");
    for (size_t d = 0; d < docs.size(); ++d) {
      std::vector<int32_t> tokens = tok.Encode(docs[d], /*add_special=*/true, /*parse_special=*/false);
      if (static_cast<int64_t>(tokens.size()) > n_ctx) {
        tokens.resize(static_cast<size_t>(n_ctx));
        ++result.n_truncated;
      }
      if (tokens.size() < 2) continue;
      LEANLM_RETURN_IF_ERROR(score(tokens, 0));
      if (progress) progress->Update(static_cast<int64_t>(d + 1));
    }
  } else {
    const std::vector<int32_t> all = tok.Encode(text, /*add_special=*/true, /*parse_special=*/false);
    const int64_t n_chunks = static_cast<int64_t>(all.size()) / n_ctx;
    if (n_chunks == 0) {
      return Status::Error("the text has " + std::to_string(all.size()) + " tokens, fewer than one chunk of " +
                           std::to_string(n_ctx) + ": use a smaller --ctx, or --docs to score documents whole");
    }
    std::optional<Progress> progress;
    if (options.show_progress) progress.emplace("perplexity", n_chunks, "chunks");
    for (int64_t c = 0; c < n_chunks; ++c) {
      std::vector<int32_t> chunk(all.begin() + c * n_ctx, all.begin() + (c + 1) * n_ctx);
      if (tok.vocab().add_bos && tok.bos() >= 0) chunk[0] = tok.bos();
      LEANLM_RETURN_IF_ERROR(score(chunk, n_ctx / 2));
      if (progress) progress->Update(c + 1);
    }
  }
  if (result.n_sequences == 0) return Status::Error("nothing to score: every document is shorter than 2 tokens");
  acc.Finish(result);
  return result;
}

}  // namespace leanlm
