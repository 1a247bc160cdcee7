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

}  // namespace

Result<PerplexityResult> ComputePerplexity(Model& model, ThreadPool& pool, const std::string& text,
                                           const PerplexityOptions& options) {
  LEANLM_ASSIGN_OR_RETURN(const ScoringPlan plan, PlanScoring(model.tokenizer(), text, options));
  return ScorePerplexity(model, pool, plan, options);
}

Result<PerplexityResult> ScorePerplexity(Model& model, ThreadPool& pool, const ScoringPlan& plan,
                                         const PerplexityOptions& options) {
  const int64_t n_vocab = model.config().n_vocab;
  if (plan.sequences.empty()) return Status::Error("nothing to score");
  KvCache cache(model.config(), plan.n_ctx + model.llama().n_virtual());
  std::vector<float> logits;
  NllAccumulator acc;
  PerplexityResult result;
  const int64_t n_seq = static_cast<int64_t>(plan.sequences.size());
  std::optional<Progress> progress;
  if (options.show_progress) progress.emplace("perplexity", n_seq, plan.documents ? "docs" : "chunks");
  for (int64_t s = 0; s < n_seq; ++s) {
    const std::vector<int32_t>& tokens = plan.sequences[s];
    const int64_t n = static_cast<int64_t>(tokens.size());
    logits.resize(static_cast<size_t>(n * n_vocab));
    LEANLM_RETURN_IF_ERROR(model.llama().Forward(tokens.data(), n, 0, cache, logits.data(), true, pool));
    for (int64_t j = plan.first; j + 1 < n; ++j) acc.Add(logits.data() + j * n_vocab, n_vocab, tokens[j + 1]);
    if (options.on_logits) LEANLM_RETURN_IF_ERROR(options.on_logits(s, tokens, logits.data()));
    if (progress) progress->Update(s + 1);
  }
  result.n_sequences = n_seq;
  result.n_truncated = plan.n_truncated;
  acc.Finish(result);
  return result;
}

}  // namespace leanlm
