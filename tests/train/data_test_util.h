// A small SentencePiece-style vocabulary built in the test (no files needed):
// <unk>, <s>, </s>, ChatML's control tokens, the 256 byte tokens, and a few
// lower-case words and letters with scores, so any text encodes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace leanlm::testing {

inline std::unique_ptr<Tokenizer> MakeTestTokenizer() {
  VocabData v;
  v.model = "llama";
  auto add = [&](const std::string& text, TokenType type, float score) {
    v.tokens.push_back(text);
    v.token_types.push_back(static_cast<int32_t>(type));
    v.scores.push_back(score);
  };
  add("<unk>", TokenType::kUnknown, 0);
  add("<s>", TokenType::kControl, 0);
  add("</s>", TokenType::kControl, 0);
  add("<|im_start|>", TokenType::kControl, 0);
  add("<|im_end|>", TokenType::kControl, 0);
  for (int b = 0; b < 256; ++b) add(ByteTokenText(static_cast<uint8_t>(b)), TokenType::kByte, 0);
  const std::string space = "\xE2\x96\x81";
  float score = -1;
  for (char c = 'a'; c <= 'z'; ++c) add(std::string(1, c), TokenType::kNormal, score -= 0.01f);
  add(space, TokenType::kNormal, -1.5f);
  for (const char* w : {"he", "ll", "hell", "hello", "wor", "world", "yes", "hi", "th", "the", "there"}) {
    add(w, TokenType::kNormal, -0.5f);
    add(space + w, TokenType::kNormal, -0.4f);
  }
  v.bos_id = 1;
  v.eos_id = 2;
  v.unk_id = 0;
  return Tokenizer::Create(std::move(v)).value();
}

// The text of tokens (SentencePiece "▁" shown as a space).
inline std::string Pieces(const Tokenizer& t, const std::vector<int32_t>& ids) {
  std::string out;
  for (int32_t id : ids) out += t.TokenToPiece(id);
  return out;
}

}  // namespace leanlm::testing
