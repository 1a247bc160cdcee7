#include "eval/compare.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <vector>

#include "base/progress.h"
#include "eval/compare_logits_file.h"

namespace leanlm {
namespace {

// A token's text for an error message: quoted, cut short.
std::string Quoted(const std::string& s) { return "'" + (s.size() > 40 ? s.substr(0, 40) + "..." : s) + "'"; }

std::string KldNote(const CompareAccumulator& acc) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "mean KLD %.6f", acc.mean_kld());
  return buf;
}

// Computes the positions of one sequence in parallel (each position is one
// pass over the vocabulary), then adds them in order so that the sums do not
// depend on the number of threads.
template <typename PositionFn>
void AddPositions(int64_t n_positions, ThreadPool& pool, std::vector<PositionStats>& stats, CompareAccumulator& acc,
                  const PositionFn& position) {
  stats.resize(static_cast<size_t>(n_positions));
  pool.ParallelFor(n_positions, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) stats[p] = position(p);
  });
  for (const PositionStats& s : stats) acc.Add(s);
}

int32_t ChunkBos(const Tokenizer& tokenizer) { return tokenizer.vocab().add_bos ? tokenizer.bos() : -1; }

}  // namespace

Status CheckSameVocabulary(Model& base, Model& model) {
  const int64_t n_base = base.config().n_vocab, n_model = model.config().n_vocab;
  if (n_base != n_model) {
    return Status::Error("the models have different vocabularies: the base has " + std::to_string(n_base) +
                         " tokens, the model " + std::to_string(n_model));
  }
  const std::vector<std::string>& a = base.tokenizer().vocab().tokens;
  const std::vector<std::string>& b = model.tokenizer().vocab().tokens;
  if (a.size() != b.size()) {
    return Status::Error("the models have different tokenizers: " + std::to_string(a.size()) + " tokens in the base's, " +
                         std::to_string(b.size()) + " in the model's");
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) {
      return Status::Error("the models have different vocabularies: token " + std::to_string(i) + " is " +
                           Quoted(a[i]) + " in the base but " + Quoted(b[i]) + " in the model");
    }
  }
  return Status::Ok();
}

Result<CompareResult> CompareModels(Model& base, Model& model, ThreadPool& pool, const std::string& text,
                                    const CompareOptions& options) {
  LEANLM_RETURN_IF_ERROR(CheckSameVocabulary(base, model));
  LEANLM_ASSIGN_OR_RETURN(const ScoringPlan plan, PlanScoring(base.tokenizer(), text, options));
  const int64_t n_vocab = base.config().n_vocab;
  KvCache base_cache(base.config(), plan.n_ctx + base.llama().n_virtual()),
      cache(model.config(), plan.n_ctx + model.llama().n_virtual());
  std::vector<float> base_logits, logits;  // (n, n_vocab)
  std::vector<PositionStats> stats;
  CompareAccumulator acc;
  const int64_t n_seq = static_cast<int64_t>(plan.sequences.size());
  std::optional<Progress> progress;
  if (options.show_progress) progress.emplace("compare", n_seq, plan.documents ? "docs" : "chunks");
  for (int64_t s = 0; s < n_seq; ++s) {
    const std::vector<int32_t>& tokens = plan.sequences[s];
    const int64_t n = static_cast<int64_t>(tokens.size());
    base_logits.resize(static_cast<size_t>(n * n_vocab));
    logits.resize(static_cast<size_t>(n * n_vocab));
    LEANLM_RETURN_IF_ERROR(base.llama().Forward(tokens.data(), n, 0, base_cache, base_logits.data(), true, pool));
    LEANLM_RETURN_IF_ERROR(model.llama().Forward(tokens.data(), n, 0, cache, logits.data(), true, pool));
    const int64_t first = plan.first;
    AddPositions(std::max<int64_t>(0, n - 1 - first), pool, stats, acc, [&](int64_t p) {
      const int64_t j = first + p;
      return ComparePosition(base_logits.data() + j * n_vocab, logits.data() + j * n_vocab, n_vocab, tokens[j + 1]);
    });
    if (progress) progress->Update(s + 1, KldNote(acc));
  }
  if (acc.count() == 0) return Status::Error("nothing to compare: no position was scored");
  CompareResult result;
  result.documents = plan.documents;
  result.n_ctx = plan.n_ctx;
  result.n_sequences = n_seq;
  result.n_truncated = plan.n_truncated;
  acc.Finish(result);
  return result;
}

Result<PerplexityResult> WriteKlDivergenceBase(Model& base, ThreadPool& pool, const std::string& text, int64_t n_ctx,
                                               const std::string& path, bool show_progress) {
  ScoringOptions chunks;
  chunks.n_ctx = n_ctx;
  LEANLM_ASSIGN_OR_RETURN(const ScoringPlan plan, PlanScoring(base.tokenizer(), text, chunks));
  LEANLM_ASSIGN_OR_RETURN(std::unique_ptr<LogitsFileWriter> writer,
                          LogitsFileWriter::Create(path, n_ctx, base.config().n_vocab, plan.stream));
  PerplexityOptions options;
  options.show_progress = show_progress;
  options.on_logits = [&](int64_t, const std::vector<int32_t>&, const float* logits) {
    return writer->AddChunk(logits, pool);
  };
  LEANLM_ASSIGN_OR_RETURN(PerplexityResult result, ScorePerplexity(base, pool, plan, options));
  LEANLM_RETURN_IF_ERROR(writer->Finish());
  return result;
}

Result<CompareResult> CompareWithKlDivergenceBase(Model& model, ThreadPool& pool, const std::string& path,
                                                  bool show_progress) {
  LEANLM_ASSIGN_OR_RETURN(std::unique_ptr<LogitsFileReader> reader, LogitsFileReader::Open(path));
  const int64_t n_vocab = model.config().n_vocab;
  if (reader->n_vocab() != n_vocab) {
    return Status::Error(path + " holds log-probabilities over " + std::to_string(reader->n_vocab()) +
                         " tokens, but the model has a vocabulary of " + std::to_string(n_vocab));
  }
  const ScoringPlan plan = PlanChunks(reader->tokens(), reader->n_ctx(), ChunkBos(model.tokenizer()));
  const int64_t words = LogitsRowWords(n_vocab), first = plan.first;
  KvCache cache(model.config(), plan.n_ctx + model.llama().n_virtual());
  std::vector<float> logits;  // (n_ctx, n_vocab)
  std::vector<uint16_t> rows;
  std::vector<PositionStats> stats;
  CompareAccumulator acc;
  const int64_t n_seq = static_cast<int64_t>(plan.sequences.size());
  std::optional<Progress> progress;
  if (show_progress) progress.emplace("kl-divergence", n_seq, "chunks");
  for (int64_t s = 0; s < n_seq; ++s) {
    const std::vector<int32_t>& tokens = plan.sequences[s];
    const int64_t n = static_cast<int64_t>(tokens.size());
    LEANLM_RETURN_IF_ERROR(reader->ReadChunk(rows));
    logits.resize(static_cast<size_t>(n * n_vocab));
    LEANLM_RETURN_IF_ERROR(model.llama().Forward(tokens.data(), n, 0, cache, logits.data(), true, pool));
    AddPositions(LogitsRowsPerChunk(n), pool, stats, acc, [&](int64_t p) {
      const uint16_t* row = rows.data() + p * words;
      float scale, min_log_prob;
      RowScaleAndMin(row, &scale, &min_log_prob);
      const int64_t j = first + p;
      return ComparePositionQuantized(scale, min_log_prob, RowLevels(row), logits.data() + j * n_vocab, n_vocab,
                                      tokens[j + 1]);
    });
    if (progress) progress->Update(s + 1, KldNote(acc));
  }
  CompareResult result;
  result.n_ctx = plan.n_ctx;
  result.n_sequences = n_seq;
  acc.Finish(result);
  return result;
}

}  // namespace leanlm
