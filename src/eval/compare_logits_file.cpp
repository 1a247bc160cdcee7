#include "eval/compare_logits_file.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

namespace leanlm {
namespace {

constexpr char kMagic[8] = {'_', 'l', 'o', 'g', 'i', 't', 's', '_'};
constexpr int64_t kHeaderBytes = 8 + 3 * 4;
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

// Round to nearest (ties to even) by adding 1.5 · 2^23, exact for |x| < 2^22:
// the trick llama.cpp's writer rounds with.
int NearestInt(float x) {
  const float shifted = x + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &shifted, 4);
  return (bits & 0x007fffff) - 0x00400000;
}

std::string Offset(int64_t byte) { return "byte " + std::to_string(byte); }

}  // namespace

int64_t LogitsRowWords(int64_t n_vocab) { return 2 * ((n_vocab + 1) / 2) + 4; }
int64_t LogitsRowsPerChunk(int64_t n_ctx) { return n_ctx - 1 - n_ctx / 2; }

void QuantizeLogitsRow(const float* logits, int64_t n_vocab, uint16_t* row) {
  float max_logit = logits[0], min_logit = logits[0];
  for (int64_t i = 1; i < n_vocab; ++i) {
    max_logit = std::max(max_logit, logits[i]);
    min_logit = std::min(min_logit, logits[i]);
  }
  min_logit = std::max(min_logit, max_logit - 16);
  double sum_exp = 0;
  for (int64_t i = 0; i < n_vocab; ++i) sum_exp += std::exp(logits[i] - max_logit);  // float exp, as llama.cpp
  const float log_sum_exp = static_cast<float>(std::log(sum_exp));
  const float min_log_prob = min_logit - max_logit - log_sum_exp;
  const float scale = (max_logit - min_logit) / 65535.0f;
  std::memcpy(row, &scale, 4);
  std::memcpy(row + 2, &min_log_prob, 4);
  uint16_t* levels = row + 4;
  if (scale != 0) {
    const float inv_scale = 1 / scale;
    for (int64_t i = 0; i < n_vocab; ++i) {
      levels[i] = logits[i] > min_logit ? static_cast<uint16_t>(NearestInt(inv_scale * (logits[i] - min_logit))) : 0;
    }
  } else {
    std::fill(levels, levels + n_vocab, uint16_t{0});
  }
  if (n_vocab % 2) levels[n_vocab] = 0;
}

void RowScaleAndMin(const uint16_t* row, float* scale, float* min_log_prob) {
  std::memcpy(scale, row, 4);
  std::memcpy(min_log_prob, row + 2, 4);
}

Result<std::unique_ptr<LogitsFileWriter>> LogitsFileWriter::Create(const std::string& path, int64_t n_ctx,
                                                                   int64_t n_vocab,
                                                                   const std::vector<int32_t>& stream) {
  const int64_t n_tokens = static_cast<int64_t>(stream.size());
  if (n_ctx < 3 || n_ctx > kInt32Max || n_vocab < 1 || n_vocab > kInt32Max) {
    return Status::Error(path + ": cannot store n_ctx " + std::to_string(n_ctx) + ", n_vocab " +
                         std::to_string(n_vocab) + " (need n_ctx >= 3)");
  }
  if (n_tokens == 0 || n_tokens % n_ctx != 0 || n_tokens / n_ctx > kInt32Max) {
    return Status::Error(path + ": " + std::to_string(n_tokens) + " tokens are not whole chunks of " +
                         std::to_string(n_ctx));
  }
  std::unique_ptr<LogitsFileWriter> w(new LogitsFileWriter());
  w->path_ = path;
  w->tmp_path_ = path + ".partial";
  w->n_ctx_ = n_ctx;
  w->n_vocab_ = n_vocab;
  w->n_chunk_ = n_tokens / n_ctx;
  w->file_ = std::fopen(w->tmp_path_.c_str(), "wb");
  if (!w->file_) return Status::Error(w->tmp_path_ + ": cannot open for writing: " + std::strerror(errno));
  const int32_t header[3] = {static_cast<int32_t>(n_ctx), static_cast<int32_t>(n_vocab),
                             static_cast<int32_t>(w->n_chunk_)};
  if (std::fwrite(kMagic, 1, 8, w->file_) != 8 || std::fwrite(header, 4, 3, w->file_) != 3 ||
      std::fwrite(stream.data(), 4, stream.size(), w->file_) != stream.size()) {
    return Status::Error(w->tmp_path_ + ": write failed: " + std::strerror(errno));
  }
  return w;
}

LogitsFileWriter::~LogitsFileWriter() {
  if (file_) {
    std::fclose(file_);
    std::remove(tmp_path_.c_str());
  }
}

Status LogitsFileWriter::AddChunk(const float* logits, ThreadPool& pool) {
  if (written_ >= n_chunk_) return Status::Error(path_ + ": more chunks than the header's " + std::to_string(n_chunk_));
  const int64_t rows = LogitsRowsPerChunk(n_ctx_), words = LogitsRowWords(n_vocab_), first = n_ctx_ / 2;
  rows_.resize(static_cast<size_t>(rows * words));
  pool.ParallelFor(rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      QuantizeLogitsRow(logits + (first + r) * n_vocab_, n_vocab_, rows_.data() + r * words);
    }
  });
  if (std::fwrite(rows_.data(), 2, rows_.size(), file_) != rows_.size()) {
    return Status::Error(tmp_path_ + ": write failed: " + std::strerror(errno));
  }
  ++written_;
  return Status::Ok();
}

Status LogitsFileWriter::Finish() {
  if (!file_) return Status::Error(path_ + ": already finished");
  if (written_ != n_chunk_) {
    return Status::Error(path_ + ": " + std::to_string(written_) + " chunks written, the header says " +
                         std::to_string(n_chunk_));
  }
  const bool ok = std::fflush(file_) == 0 && std::ferror(file_) == 0;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!ok || !closed) {
    std::remove(tmp_path_.c_str());
    return Status::Error(tmp_path_ + ": write failed: " + std::strerror(errno));
  }
  std::error_code ec;
  std::filesystem::rename(tmp_path_, path_, ec);
  if (ec) {
    std::remove(tmp_path_.c_str());
    return Status::Error(path_ + ": cannot move the finished file into place: " + ec.message());
  }
  return Status::Ok();
}

Result<std::unique_ptr<LogitsFileReader>> LogitsFileReader::Open(const std::string& path) {
  std::error_code ec;
  const uintmax_t size_u = std::filesystem::file_size(path, ec);
  if (ec) return Status::Error(path + ": cannot read: " + ec.message());
  const int64_t size = static_cast<int64_t>(size_u);
  std::unique_ptr<LogitsFileReader> r(new LogitsFileReader());
  r->path_ = path;
  r->file_ = std::fopen(path.c_str(), "rb");
  if (!r->file_) return Status::Error(path + ": cannot open: " + std::strerror(errno));
  char magic[8];
  int32_t header[3];
  if (size < kHeaderBytes || std::fread(magic, 1, 8, r->file_) != 8 || std::memcmp(magic, kMagic, 8) != 0) {
    return Status::Error(path + ": not a llama.cpp logits file (expected \"_logits_\" at byte 0)");
  }
  if (std::fread(header, 4, 3, r->file_) != 3) return Status::Error(path + ": cannot read the header");
  r->n_ctx_ = header[0];
  r->n_vocab_ = header[1];
  r->n_chunk_ = header[2];
  if (r->n_ctx_ < 3) return Status::Error(path + ": n_ctx " + std::to_string(r->n_ctx_) + " at byte 8, expected >= 3");
  if (r->n_vocab_ < 1) return Status::Error(path + ": n_vocab " + std::to_string(r->n_vocab_) + " at byte 12");
  if (r->n_chunk_ < 1) return Status::Error(path + ": n_chunk " + std::to_string(r->n_chunk_) + " at byte 16");

  // Expected size, every product checked against the file size first.
  const int64_t after_header = size - kHeaderBytes;
  const int64_t chunk_bytes = 2 * LogitsRowsPerChunk(r->n_ctx_) * LogitsRowWords(r->n_vocab_);  // < 2^63
  const int64_t per_chunk = 4 * r->n_ctx_ + chunk_bytes;
  if (per_chunk > after_header / r->n_chunk_ || per_chunk * r->n_chunk_ != after_header) {
    return Status::Error(path + ": " + std::to_string(size) + " bytes, but n_ctx " + std::to_string(r->n_ctx_) +
                         ", n_vocab " + std::to_string(r->n_vocab_) + " and n_chunk " + std::to_string(r->n_chunk_) +
                         " need " +
                         (per_chunk > after_header / r->n_chunk_
                              ? std::string("more")
                              : std::to_string(kHeaderBytes + per_chunk * r->n_chunk_)) +
                         " (truncated or not a logits file)");
  }
  r->tokens_.resize(static_cast<size_t>(r->n_ctx_ * r->n_chunk_));
  if (std::fread(r->tokens_.data(), 4, r->tokens_.size(), r->file_) != r->tokens_.size()) {
    return Status::Error(path + ": cannot read the tokens at " + Offset(kHeaderBytes));
  }
  for (size_t i = 0; i < r->tokens_.size(); ++i) {
    if (r->tokens_[i] < 0 || r->tokens_[i] >= r->n_vocab_) {
      return Status::Error(path + ": token " + std::to_string(r->tokens_[i]) + " at " +
                           Offset(kHeaderBytes + 4 * static_cast<int64_t>(i)) + " is outside the vocabulary of " +
                           std::to_string(r->n_vocab_));
    }
  }
  return r;
}

LogitsFileReader::~LogitsFileReader() {
  if (file_) std::fclose(file_);
}

Status LogitsFileReader::ReadChunk(std::vector<uint16_t>& rows) {
  if (read_ >= n_chunk_) return Status::Error(path_ + ": no chunk left to read");
  const int64_t n_rows = LogitsRowsPerChunk(n_ctx_), words = LogitsRowWords(n_vocab_);
  const int64_t start = kHeaderBytes + 4 * n_ctx_ * n_chunk_ + read_ * 2 * n_rows * words;
  rows.resize(static_cast<size_t>(n_rows * words));
  if (std::fread(rows.data(), 2, rows.size(), file_) != rows.size()) {
    return Status::Error(path_ + ": cannot read chunk " + std::to_string(read_) + " at " + Offset(start));
  }
  for (int64_t r = 0; r < n_rows; ++r) {
    float scale, min_log_prob;
    RowScaleAndMin(rows.data() + r * words, &scale, &min_log_prob);
    if (!std::isfinite(scale) || scale < 0 || !std::isfinite(min_log_prob) || min_log_prob > 0) {
      return Status::Error(path_ + ": chunk " + std::to_string(read_) + " row " + std::to_string(r) + " at " +
                           Offset(start + 2 * r * words) + " has scale " + std::to_string(scale) +
                           " and minimum log-probability " + std::to_string(min_log_prob) +
                           ": expected a finite scale >= 0 and a finite log-probability <= 0");
    }
  }
  ++read_;
  return Status::Ok();
}

}  // namespace leanlm
