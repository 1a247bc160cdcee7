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
#include "tokenizer/token_index.h"
#include "tokenizer/vocab.h"

namespace leanlm {

struct DecodeOptions {
  // Control tokens (BOS, <|eot_id|>, ...) as their text; false leaves them out.
  bool render_control = true;
  // The ids continue earlier text (generation after a prompt): keep the
  // leading space of the first piece instead of taking it for the
  // SentencePiece dummy prefix.
  bool continuation = false;
};

class Tokenizer {
 public:
  // Validates the vocabulary and builds the lookup tables.
  static Result<std::unique_ptr<Tokenizer>> Create(VocabData vocab);
  virtual ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // add_special: BOS (and EOS) as the vocabulary asks (vocab.add_bos/add_eos).
  // parse_special: text like "<|eot_id|>" becomes the special token. Without
  // it control tokens are ordinary text; user-defined tokens are always
  // matched first (as llama.cpp and Hugging Face do). Any bytes are accepted.
  std::vector<int32_t> Encode(std::string_view text, bool add_special, bool parse_special) const;
  // The bytes a token stands for (byte tokens become their byte; the
  // SentencePiece "▁" becomes a space). Special tokens give their text; an
  // id out of range gives "".
  std::string TokenToPiece(int32_t id) const { return std::string(Piece(id)); }
  std::string_view Piece(int32_t id) const;
  std::string Decode(const std::vector<int32_t>& ids) const { return Decode(ids, DecodeOptions()); }
  std::string Decode(const std::vector<int32_t>& ids, const DecodeOptions& options) const;

  const VocabData& vocab() const { return vocab_; }
  int64_t n_vocab() const { return static_cast<int64_t>(vocab_.tokens.size()); }
  int32_t bos() const { return vocab_.bos_id; }
  int32_t eos() const { return vocab_.eos_id; }
  // The id of a token given its exact text, or -1.
  int32_t TokenId(std::string_view text) const;
  // The type llama.cpp gives the token (end-of-turn tokens are forced to control).
  TokenType type(int32_t id) const;
  bool IsEndOfGeneration(int32_t id) const;  // eos, eot, and other end-of-turn control tokens

 protected:
  explicit Tokenizer(VocabData vocab);
  // Encodes text that holds no special token. `after_special` is true at the
  // start of the input and right after a special token (the SentencePiece
  // dummy prefix goes there).
  virtual void EncodeText(std::string_view text, bool after_special, std::vector<int32_t>& out) const = 0;
  // The bytes of a normal or byte token.
  virtual std::string NormalPiece(int32_t id) const = 0;
  // Whether the dummy-prefix space is added by EncodeText (SentencePiece).
  virtual bool adds_space_prefix() const { return false; }
  // Builds the algorithm's own tables once the shared ones exist.
  virtual Status InitAlgorithm() = 0;

  // Looks up text among the tokens that encoding may produce from text
  // (normal, user-defined, unused and undefined ones: not control, unknown
  // or byte tokens, which SentencePiece also keeps out of its piece table).
  int32_t TextToken(std::string_view text) const;

  VocabData vocab_;

 private:
  friend class StreamDecoder;
  Status Init();
  // Appends the text of one token. `strip_space` says whether a leading
  // space is the dummy prefix Encode added; it is updated for the next token.
  void AppendDecoded(int32_t id, const DecodeOptions& options, bool& strip_space, std::string& out) const;
  // Whether a token takes part in special-token matching before the algorithm runs.
  bool IsSpecialCandidate(int32_t id, bool parse_special) const;
  struct SpecialMatcher;

  TokenIndex all_tokens_;   // every token text -> lowest id
  TokenIndex text_tokens_;  // see TextToken()
  std::vector<TokenType> types_;
  std::vector<std::string> pieces_;
  std::vector<bool> end_of_generation_;
  std::unique_ptr<SpecialMatcher> special_;
};

// Turns a stream of token ids into text that never ends inside a UTF-8
// sequence: bytes of an incomplete character are held until it completes,
// and bytes that cannot start or continue a character become U+FFFD at once,
// so every chunk is valid UTF-8. The chunks joined (with Flush) equal
// Decode(ids, options) whenever that is valid UTF-8.
//
// By default the ids continue earlier text (generated tokens after a
// prompt), so a leading space is kept; ContinueAfter(last prompt token)
// drops it after BOS or another control token, as llama2.c and llama.cpp
// print. Pass DecodeOptions{} to decode a text from its start, like Decode.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, DecodeOptions options = {.continuation = true})
      : tokenizer_(tokenizer), options_(options), strip_space_(!options.continuation) {}
  // The ids to come follow token `previous` (-1: nothing, the start of a text).
  void ContinueAfter(int32_t previous);
  std::string Push(int32_t id);  // the complete characters available now
  std::string Flush();           // whatever remains (invalid bytes as U+FFFD)

 private:
  const Tokenizer& tokenizer_;
  DecodeOptions options_;
  std::string pending_;
  bool strip_space_;  // the next text piece may lose its dummy-prefix space
};

}  // namespace leanlm
