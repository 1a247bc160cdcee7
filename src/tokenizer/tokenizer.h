// Text <-> token ids. Two algorithms behind one interface:
//   - SentencePiece-style BPE with scores and byte fallback (vocab.model == "llama")
//   - byte-level BPE with merges and a pre-tokenizer regex (vocab.model == "gpt2")
// Added/special tokens are matched first when parse_special is set.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tokenizer/vocab.h"

namespace leanlm {

class Tokenizer {
 public:
  static Result<std::unique_ptr<Tokenizer>> Create(VocabData vocab);
  virtual ~Tokenizer() = default;

  // add_special: BOS (and EOS) as the vocabulary asks (vocab.add_bos/add_eos).
  // parse_special: text like "<|eot_id|>" becomes the special token.
  virtual std::vector<int32_t> Encode(std::string_view text, bool add_special, bool parse_special) const = 0;
  // The bytes a token stands for (byte tokens become their byte; the
  // SentencePiece "▁" becomes a space). Special tokens give their text.
  virtual std::string TokenToPiece(int32_t id) const = 0;
  std::string Decode(const std::vector<int32_t>& ids) const;

  const VocabData& vocab() const { return vocab_; }
  int64_t n_vocab() const { return static_cast<int64_t>(vocab_.tokens.size()); }
  int32_t bos() const { return vocab_.bos_id; }
  int32_t eos() const { return vocab_.eos_id; }
  bool IsEndOfGeneration(int32_t id) const;  // eos, eot, and other end-of-turn control tokens

 protected:
  explicit Tokenizer(VocabData vocab) : vocab_(std::move(vocab)) {}
  VocabData vocab_;
};

// Turns a stream of token ids into text that never ends inside a UTF-8
// sequence: bytes of an incomplete character are held until it completes.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  std::string Push(int32_t id);  // the complete characters available now
  std::string Flush();           // whatever remains (invalid bytes as U+FFFD)

 private:
  const Tokenizer& tokenizer_;
  std::string pending_;
};

}  // namespace leanlm
