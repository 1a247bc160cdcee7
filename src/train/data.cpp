#include "train/data.h"

#include <algorithm>
#include <cstring>

#include "base/log.h"
#include "base/mmap_file.h"
#include "train/data_jsonl.h"
#include "train/data_loader.h"

namespace leanlm {
namespace {

// Bounds the tokenizer work of locating loss regions (each boundary costs a
// tokenization of the text before it), so a hostile line cannot stall loading.
constexpr size_t kMaxBoundaryWorkBytes = size_t{64} << 20;

size_t CommonPrefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

// Packs documents end to end into windows of ctx inputs.
class Packer {
 public:
  Packer(int64_t ctx, int32_t bos, std::vector<Sequence>& out, DataStats& stats)
      : ctx_(ctx), bos_(bos), out_(out), stats_(stats) {}

  void AddDocument(const std::vector<int32_t>& ids) {
    if (bos_ >= 0) stream_.push_back(bos_);
    stream_.insert(stream_.end(), ids.begin(), ids.end());
    while (static_cast<int64_t>(stream_.size() - begin_) > ctx_) Emit(ctx_);
    if (begin_ > (size_t{1} << 20)) {  // drop what has been emitted
      stream_.erase(stream_.begin(), stream_.begin() + static_cast<std::ptrdiff_t>(begin_));
      begin_ = 0;
    }
  }

  void Finish() {
    if (stream_.size() - begin_ >= 2) Emit(static_cast<int64_t>(stream_.size() - begin_) - 1);
    stream_.clear();
    begin_ = 0;
  }

 private:
  // Emits n inputs from begin_ with their targets; the last input's target
  // stays in the stream to start the next window.
  void Emit(int64_t n) {
    Sequence s;
    s.tokens.assign(stream_.begin() + static_cast<std::ptrdiff_t>(begin_),
                    stream_.begin() + static_cast<std::ptrdiff_t>(begin_ + n));
    s.labels.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const int32_t target = stream_[begin_ + static_cast<size_t>(i) + 1];
      s.labels[i] = target == bos_ ? -1 : target;  // the start of a document is not predictable
    }
    begin_ += static_cast<size_t>(n);
    stats_.sequences++;
    stats_.tokens += n;
    stats_.loss_tokens += s.loss_tokens();
    out_.push_back(std::move(s));
  }

  int64_t ctx_;
  int32_t bos_;
  std::vector<Sequence>& out_;
  DataStats& stats_;
  std::vector<int32_t> stream_;
  size_t begin_ = 0;
};

struct Tokenized {
  std::vector<int32_t> ids;
  std::vector<bool> loss;  // per id
};

class Builder {
 public:
  Builder(const Tokenizer& tokenizer, const DataOptions& options, std::vector<Sequence>& out, DataStats& stats)
      : tokenizer_(tokenizer),
        options_(options),
        bos_(tokenizer.vocab().add_bos ? tokenizer.bos() : -1),
        chat_kind_(DetectChatTemplate(options.chat_template)),
        packer_(options.ctx, bos_, out, stats),
        out_(out),
        stats_(stats) {}

  void AddText(std::string_view text) { packer_.AddDocument(tokenizer_.Encode(text, false, false)); }

  Status AddExample(const JsonlExample& example, const std::string& where) {
    switch (example.kind) {
      case JsonlExample::Kind::kText:
        AddText(example.text);
        return Status::Ok();
      case JsonlExample::Kind::kPromptCompletion: {
        Tokenized t;
        LEANLM_RETURN_IF_ERROR(Regions(example.prompt + example.completion, {example.prompt.size()}, false, where, t));
        if (tokenizer_.eos() >= 0) {
          t.ids.push_back(tokenizer_.eos());
          t.loss.push_back(true);
        }
        AddSupervised(t);
        return Status::Ok();
      }
      case JsonlExample::Kind::kMessages:
        return AddChat(example.messages, where);
    }
    return Status::Ok();
  }

  void Finish() { packer_.Finish(); }

 private:
  // Tokenizes `text` (BOS first) and marks loss from each odd-indexed
  // boundary's token onwards until the next boundary: boundaries
  // {b0} means loss on [b0, end); {b0, b1, b2} means [b0, b1) and [b2, end).
  Status Regions(const std::string& text, const std::vector<size_t>& boundaries, bool parse_special,
                 const std::string& where, Tokenized& t) {
    size_t work = 0;
    for (size_t b : boundaries) work += b;
    if (work > kMaxBoundaryWorkBytes) {
      return Status::Error(where + ": conversation too long to locate its " + std::to_string(boundaries.size()) +
                           " turn boundaries");
    }
    const std::vector<int32_t> ids = tokenizer_.Encode(text, false, parse_special);
    std::vector<size_t> at;  // token index of each boundary
    for (size_t b : boundaries) {
      at.push_back(b >= text.size() ? ids.size()
                                    : CommonPrefix(ids, tokenizer_.Encode(text.substr(0, b), false, parse_special)));
    }
    // A template that writes BOS as text gets no second one.
    if (bos_ >= 0 && (ids.empty() || ids[0] != bos_)) {
      t.ids.push_back(bos_);
      t.loss.push_back(false);
    }
    for (size_t i = 0; i < ids.size(); ++i) {
      bool in_loss = false;
      for (size_t k = 0; k < at.size(); ++k) {
        if (i >= at[k]) in_loss = k % 2 == 0;
      }
      t.ids.push_back(ids[i]);
      t.loss.push_back(in_loss);
    }
    return Status::Ok();
  }

  Status AddChat(const std::vector<ChatMessage>& messages, const std::string& where) {
    const std::string full = FormatChat(chat_kind_, messages, false);
    std::vector<size_t> boundaries;
    for (size_t i = 0; i < messages.size(); ++i) {
      if (messages[i].role != "assistant") continue;
      const std::vector<ChatMessage> before(messages.begin(), messages.begin() + static_cast<std::ptrdiff_t>(i));
      const std::vector<ChatMessage> through(messages.begin(), messages.begin() + static_cast<std::ptrdiff_t>(i + 1));
      std::string start = FormatChat(chat_kind_, before, true);
      if (!full.starts_with(start)) start = FormatChat(chat_kind_, before, false);  // no generation prompt
      const std::string end = FormatChat(chat_kind_, through, false);
      if (!full.starts_with(start) || !full.starts_with(end) || end.size() < start.size() ||
          (!boundaries.empty() && start.size() < boundaries.back())) {
        return Status::Error(where + ": the chat template '" + std::string(ChatTemplateName(chat_kind_)) +
                             "' does not format this conversation turn by turn (message " + std::to_string(i) + ")");
      }
      boundaries.push_back(start.size());
      boundaries.push_back(end.size());
    }
    Tokenized t;
    LEANLM_RETURN_IF_ERROR(Regions(full, boundaries, true, where, t));
    AddSupervised(t);
    return Status::Ok();
  }

  void AddSupervised(const Tokenized& t) {
    if (t.ids.size() < 2) {
      stats_.dropped++;
      return;
    }
    int64_t n = static_cast<int64_t>(t.ids.size()) - 1;
    if (n > options_.ctx) {
      n = options_.ctx;
      stats_.truncated++;
    }
    Sequence s;
    s.tokens.assign(t.ids.begin(), t.ids.begin() + n);
    s.labels.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) s.labels[i] = t.loss[i + 1] ? t.ids[i + 1] : -1;
    const int64_t loss = s.loss_tokens();
    if (loss == 0) {
      stats_.dropped++;
      return;
    }
    stats_.sequences++;
    stats_.tokens += n;
    stats_.loss_tokens += loss;
    out_.push_back(std::move(s));
  }

  const Tokenizer& tokenizer_;
  const DataOptions& options_;
  int32_t bos_;
  ChatTemplateKind chat_kind_;
  Packer packer_;
  std::vector<Sequence>& out_;
  DataStats& stats_;
};

Status CheckOptions(const DataOptions& options) {
  if (options.ctx < 1 || options.ctx > (int64_t{1} << 24)) {
    return Status::Error("context length " + std::to_string(options.ctx) + " is out of range [1, 16777216]");
  }
  return Status::Ok();
}

}  // namespace

int64_t Sequence::loss_tokens() const {
  return static_cast<int64_t>(std::count_if(labels.begin(), labels.end(), [](int32_t l) { return l >= 0; }));
}

void DataStats::Add(const DataStats& o) {
  lines += o.lines;
  sequences += o.sequences;
  tokens += o.tokens;
  loss_tokens += o.loss_tokens;
  skipped += o.skipped;
  truncated += o.truncated;
  dropped += o.dropped;
  if (first_skip.empty()) first_skip = o.first_skip;
}

Result<std::vector<Sequence>> SequencesFromText(std::string_view text, const Tokenizer& tokenizer,
                                                const DataOptions& options, DataStats* stats) {
  LEANLM_RETURN_IF_ERROR(CheckOptions(options));
  DataStats local;
  std::vector<Sequence> out;
  Builder builder(tokenizer, options, out, local);
  builder.AddText(text);
  builder.Finish();
  local.lines = 1;
  if (stats != nullptr) stats->Add(local);
  return out;
}

Result<std::vector<Sequence>> SequencesFromJsonl(std::string_view content, const std::string& source,
                                                 const Tokenizer& tokenizer, const DataOptions& options,
                                                 DataStats* stats) {
  LEANLM_RETURN_IF_ERROR(CheckOptions(options));
  DataStats local;
  std::vector<Sequence> out;
  Builder builder(tokenizer, options, out, local);
  size_t pos = 0;
  for (int64_t line_no = 1; pos < content.size(); ++line_no) {
    const size_t eol = std::min(content.find('\n', pos), content.size());
    const std::string_view line = content.substr(pos, eol - pos);
    pos = eol + 1;
    if (IsBlankLine(line)) continue;
    local.lines++;
    const std::string where = source + ":" + std::to_string(line_no);
    Status status;
    auto example = ParseJsonlExample(line, where);
    status = example.ok() ? builder.AddExample(example.value(), where) : example.status();
    if (!status.ok()) {
      if (!options.skip_bad) return status;
      if (local.first_skip.empty()) local.first_skip = status.message();
      local.skipped++;
    }
  }
  builder.Finish();
  if (stats != nullptr) stats->Add(local);
  return out;
}

Result<std::vector<Sequence>> LoadSequences(const std::string& path, const Tokenizer& tokenizer,
                                            const DataOptions& options, DataStats* stats) {
  LEANLM_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> file, MappedFile::Open(path));
  const std::string_view content(reinterpret_cast<const char*>(file->data()), file->size());
  DataFormat format = options.format;
  if (format == DataFormat::kAuto) format = path.ends_with(".jsonl") ? DataFormat::kJsonl : DataFormat::kText;
  Result<std::vector<Sequence>> sequences = format == DataFormat::kJsonl
                                                ? SequencesFromJsonl(content, path, tokenizer, options, stats)
                                                : SequencesFromText(content, tokenizer, options, stats);
  if (sequences.ok() && sequences.value().empty()) {
    return Status::Error(path + ": no sequence with a token to learn (empty file, or every example dropped)");
  }
  return sequences;
}

Result<Dataset> LoadDataset(const Tokenizer& tokenizer, const DatasetOptions& options) {
  Dataset data;
  LEANLM_ASSIGN_OR_RETURN(data.train, LoadSequences(options.train_path, tokenizer, options.data, &data.train_stats));
  if (!options.val_path.empty()) {
    if (options.val_split != 0.0) return Status::Error("give either a validation file or a validation split, not both");
    LEANLM_ASSIGN_OR_RETURN(data.val, LoadSequences(options.val_path, tokenizer, options.data, &data.val_stats));
  } else {
    LEANLM_RETURN_IF_ERROR(SplitValidation(data.train, options.val_split, options.seed, data.val));
  }
  const std::pair<const char*, const DataStats*> all[] = {{"training", &data.train_stats},
                                                          {"validation", &data.val_stats}};
  for (const auto& [name, stats] : all) {
    if (stats->skipped > 0) {
      LEANLM_WARN("%s data: skipped %lld bad line(s); the first: %s", name, static_cast<long long>(stats->skipped),
                  stats->first_skip.c_str());
    }
    if (stats->truncated > 0) {
      LEANLM_WARN("%s data: %lld example(s) longer than the context (%lld tokens) were truncated", name,
                  static_cast<long long>(stats->truncated), static_cast<long long>(options.data.ctx));
    }
    if (stats->dropped > 0) {
      LEANLM_WARN("%s data: %lld example(s) had no token to learn within the context and were dropped", name,
                  static_cast<long long>(stats->dropped));
    }
  }
  return data;
}

}  // namespace leanlm
