// llama.cpp's base-logits file (`llama-perplexity --kl-divergence-base`),
// byte-compatible both ways. Little-endian:
//   char[8] "_logits_", int32 n_ctx, int32 n_vocab, int32 n_chunk,
//   int32 tokens[n_chunk * n_ctx]   (as tokenized: chunk starts not yet BOS)
//   then per chunk, one row per scored position (n_ctx - 1 - n_ctx/2 rows,
//   logits of positions n_ctx/2 .. n_ctx-2), each LogitsRowWords(n_vocab) uint16:
//   float scale, float min_log_prob, n_vocab uint16 levels, zero padding to
//   an even count. log p(i) ≈ scale · level(i) + min_log_prob: level 0 is the
//   row's smallest logit but at most 16 below the largest, level 65535 the
//   largest, so log-probabilities are kept to ~1.2e-4 down to the floor.
// Readers check every field against the file size before allocating.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"

namespace leanlm {

// uint16 words per row: 4 (scale, min) + n_vocab rounded up to even.
int64_t LogitsRowWords(int64_t n_vocab);
// Rows per chunk: the scored positions.
int64_t LogitsRowsPerChunk(int64_t n_ctx);

// Quantizes one row of logits as llama.cpp does (same float arithmetic and
// rounding, so the bytes match for the same logits). row: LogitsRowWords(n_vocab).
void QuantizeLogitsRow(const float* logits, int64_t n_vocab, uint16_t* row);
// The scale and min_log_prob a row starts with.
void RowScaleAndMin(const uint16_t* row, float* scale, float* min_log_prob);
inline const uint16_t* RowLevels(const uint16_t* row) { return row + 4; }

class LogitsFileWriter {
 public:
  // Writes the header and the n_chunk * n_ctx tokens of `stream` to a
  // temporary file next to `path`; Finish() puts it in place.
  static Result<std::unique_ptr<LogitsFileWriter>> Create(const std::string& path, int64_t n_ctx, int64_t n_vocab,
                                                          const std::vector<int32_t>& stream);
  ~LogitsFileWriter();  // removes the temporary file unless Finish() succeeded

  // One chunk: logits of all n_ctx positions (n_ctx × n_vocab); the scored
  // rows are quantized (in parallel) and appended.
  Status AddChunk(const float* logits, ThreadPool& pool);
  // Checks that every chunk was written, flushes, and renames into place.
  Status Finish();

 private:
  LogitsFileWriter() = default;
  std::string path_, tmp_path_;
  std::FILE* file_ = nullptr;
  int64_t n_ctx_ = 0, n_vocab_ = 0, n_chunk_ = 0, written_ = 0;
  std::vector<uint16_t> rows_;
};

class LogitsFileReader {
 public:
  static Result<std::unique_ptr<LogitsFileReader>> Open(const std::string& path);
  ~LogitsFileReader();

  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_vocab() const { return n_vocab_; }
  int64_t n_chunk() const { return n_chunk_; }
  const std::vector<int32_t>& tokens() const { return tokens_; }  // n_chunk * n_ctx, each < n_vocab

  // The next chunk's rows (LogitsRowsPerChunk × LogitsRowWords uint16);
  // errors name the chunk and row of a scale or minimum that is not a
  // finite, non-negative scale and finite minimum.
  Status ReadChunk(std::vector<uint16_t>& rows);

 private:
  LogitsFileReader() = default;
  std::string path_;
  std::FILE* file_ = nullptr;
  int64_t n_ctx_ = 0, n_vocab_ = 0, n_chunk_ = 0, read_ = 0;
  std::vector<int32_t> tokens_;
};

}  // namespace leanlm
