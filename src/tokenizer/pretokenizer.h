// Pre-tokenizers of byte-level BPE vocabularies: a list of regexes (from
// llama.cpp's llm_tokenizer_bpe, per tokenizer.ggml.pre) run by PCRE2 with
// UTF + UCP + JIT. Each regex splits every piece left by the previous one
// into its matches and the text between them (Hugging Face's "Isolated" split).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace leanlm {

// The first name of the group of names that share `name`'s regexes and
// flags (for example "llama3" -> "llama-bpe"), or "" if the name is unknown.
std::string_view CanonicalPreTokenizerName(std::string_view name);

class PreTokenizer {
 public:
  // `name` is a tokenizer.ggml.pre value ("gpt-2", "llama-bpe", "qwen2", ...).
  static Result<std::unique_ptr<PreTokenizer>> Create(const std::string& name);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Appends the pieces of `text`, in order, as views into it. Invalid UTF-8
  // never matches a regex, so it ends up in the pieces between matches.
  void Split(std::string_view text, std::vector<std::string_view>& out) const;

  // Whether a whole piece that is already a token skips the merges
  // (llama.cpp's ignore_merges, Hugging Face's BPE.ignore_merges).
  bool ignore_merges() const { return ignore_merges_; }

 private:
  struct Regex;
  PreTokenizer() = default;
  std::vector<std::unique_ptr<Regex>> regexes_;
  bool ignore_merges_ = false;
};

}  // namespace leanlm
