// SentencePiece BPE (vocab.model == "llama"): characters are merged pairwise,
// best-scoring resulting piece first (leftmost on ties), as llama.cpp's
// llm_tokenizer_spm and llama2.c's encode do; characters no piece covers fall
// back to byte tokens <0xNN>. Spaces become "▁" and a dummy "▁" prefix goes
// at the start and after special tokens when add_space_prefix is set.
#pragma once

#include <array>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace leanlm {

class SpmTokenizer final : public Tokenizer {
 public:
  explicit SpmTokenizer(VocabData vocab) : Tokenizer(std::move(vocab)) {}

 protected:
  void EncodeText(std::string_view text, bool after_special, std::vector<int32_t>& out) const override;
  std::string NormalPiece(int32_t id) const override;
  bool adds_space_prefix() const override { return vocab_.add_space_prefix; }
  Status InitAlgorithm() override;

 private:
  struct Scratch;  // buffers reused across the runs of one EncodeText call
  // Merges one run of characters and appends its tokens.
  void EncodeRun(std::string_view run, Scratch& scratch, std::vector<int32_t>& out) const;
  // Appends the token of a merged symbol, or the byte tokens of a lone character.
  void EmitPiece(std::string_view piece, std::vector<int32_t>& out) const;

  std::array<int32_t, 256> byte_tokens_{};  // token for each byte, -1 if none
  std::vector<bool> in_merged_token_;       // by code point: occurs in a token of 2+ characters
};

}  // namespace leanlm
