// Training data as model-ready sequences for the next-token objective.
//
// A Sequence holds n input tokens and n labels: labels[i] is the token the
// model should predict after tokens[0..i], or -1 where no loss is taken.
//   - Plain text files and {"text"} JSONL lines are documents: each is
//     tokenized, prefixed with BOS (when the vocabulary adds one), and all are
//     packed end to end into windows of `ctx` inputs; predicting a
//     document's BOS is masked, everything else is learned.
//   - {"prompt","completion"} lines give one sequence each with loss on the
//     completion's tokens (and an EOS appended, so the model learns to stop).
//   - {"messages"} lines are formatted with the chat template and give one
//     sequence each with loss on the assistant turns (content and the
//     template's end-of-turn markup), nothing else.
// Supervised sequences longer than ctx are truncated (counted, and warned
// about by LoadDataset). Token boundaries follow the tokenization of the
// whole text: a region starts at the first token that differs from the
// tokenization of the text before it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tokenizer/tokenizer.h"

namespace leanlm {

struct Sequence {
  std::vector<int32_t> tokens;  // [n] model inputs
  std::vector<int32_t> labels;  // [n] next-token targets, -1 where no loss
  int64_t loss_tokens() const;
};

enum class DataFormat { kAuto, kText, kJsonl };  // kAuto: ".jsonl" files are JSONL, others text

struct DataOptions {
  int64_t ctx = 256;           // inputs per sequence
  DataFormat format = DataFormat::kAuto;
  // The chat template for {"messages"} lines: a family name ("chatml") or
  // the model's Jinja source (tokenizer.chat_template).
  std::string chat_template;
  bool skip_bad = false;       // skip (and count) bad JSONL lines instead of failing
};

struct DataStats {
  int64_t lines = 0;        // JSONL lines read (blank ones excluded); 1 for a text file
  int64_t sequences = 0;
  int64_t tokens = 0;       // input positions
  int64_t loss_tokens = 0;  // positions with a label
  int64_t skipped = 0;      // bad lines skipped with skip_bad
  int64_t truncated = 0;    // supervised examples cut to ctx
  int64_t dropped = 0;      // supervised examples with no label left after the cut
  std::string first_skip;   // the message of the first skipped line
  void Add(const DataStats& other);
};

// Parses and tokenizes a file's contents; `source` names it in messages
// ("train.jsonl:12: ...").
Result<std::vector<Sequence>> SequencesFromText(std::string_view text, const Tokenizer& tokenizer,
                                                const DataOptions& options, DataStats* stats);
Result<std::vector<Sequence>> SequencesFromJsonl(std::string_view content, const std::string& source,
                                                 const Tokenizer& tokenizer, const DataOptions& options,
                                                 DataStats* stats);
// Reads a file in the format options.format says (or its extension suggests).
Result<std::vector<Sequence>> LoadSequences(const std::string& path, const Tokenizer& tokenizer,
                                            const DataOptions& options, DataStats* stats);

struct DatasetOptions {
  std::string train_path;
  std::string val_path;    // a separate validation file, or empty
  double val_split = 0.0;  // without val_path: this fraction of the train sequences, chosen by seed
  uint64_t seed = 0;
  DataOptions data;
};

struct Dataset {
  std::vector<Sequence> train, val;
  DataStats train_stats, val_stats;
};

// Loads train (and validation) data; warns about skipped and truncated lines.
Result<Dataset> LoadDataset(const Tokenizer& tokenizer, const DatasetOptions& options);

}  // namespace leanlm
