// Byte-level BPE (vocab.model == "gpt2"): the pre-tokenizer splits text into
// pieces, each piece's bytes become GPT-2 byte-level characters, and adjacent
// symbols merge by merge rank (lowest first, leftmost on ties) as in
// llama.cpp's llm_tokenizer_bpe and Hugging Face's BPE model.
#pragma once

#include <array>
#include <memory>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/token_index.h"
#include "tokenizer/tokenizer.h"

namespace leanlm {

class ByteBpeTokenizer final : public Tokenizer {
 public:
  explicit ByteBpeTokenizer(VocabData vocab);
  ~ByteBpeTokenizer() override;

 protected:
  void EncodeText(std::string_view text, bool after_special, std::vector<int32_t>& out) const override;
  std::string NormalPiece(int32_t id) const override;
  Status InitAlgorithm() override;

 private:
  struct Merge {
    int32_t rank;
    int32_t result;  // token id of the merged pair
  };
  static uint64_t PairKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  struct Scratch;  // buffers reused across the pieces of one EncodeText call
  void EncodePiece(std::string_view piece, Scratch& scratch, std::vector<int32_t>& out) const;

  std::unique_ptr<PreTokenizer> pre_;
  PairMap<Merge> merges_;                       // (left id, right id) -> merge
  std::array<int32_t, 256> byte_tokens_{};      // token of each byte's byte-level character, -1 if none
};

}  // namespace leanlm
