// libFuzzer target for encoding: arbitrary bytes through a SentencePiece and a
// byte-level vocabulary built here. Ids stay in range, decoding gives the
// bytes back (SentencePiece: unless they hold its space marker U+2581), and
// the streaming decoder emits valid UTF-8 that joins to the decoded text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace {

using leanlm::TokenType;
using leanlm::Tokenizer;
using leanlm::VocabData;

void Add(VocabData& v, std::string text, TokenType type, float score = 0.0f) {
  v.tokens.push_back(std::move(text));
  v.token_types.push_back(static_cast<int32_t>(type));
  v.scores.push_back(score);
}

// <unk> <s> </s>, the 256 byte pieces, then pieces that merge: letters,
// "▁" words and digits, with llama-like descending scores.
std::unique_ptr<Tokenizer> MakeSpm() {
  VocabData v;
  v.model = "llama";
  Add(v, "<unk>", TokenType::kUnknown);
  Add(v, "<s>", TokenType::kControl);
  Add(v, "</s>", TokenType::kControl);
  for (int b = 0; b < 256; ++b) Add(v, leanlm::ByteTokenText(static_cast<uint8_t>(b)), TokenType::kByte);
  const std::string sp = "\xE2\x96\x81";
  const char* pieces[] = {"t", "h", "e", "a", "o", "n", "s", " ", "1", "2", "\xC3\xA9", "th", "he", "the", "an", "on",
                          "12", "\xC3\xA9t", "<|", "|>"};
  float score = -1.0f;
  for (const char* p : pieces) Add(v, std::string(p) == " " ? sp : p, TokenType::kNormal, score--);
  for (const char* p : {"t", "th", "the", "a", "an", "o", "on", "s"}) Add(v, sp + p, TokenType::kNormal, score--);
  Add(v, sp + sp, TokenType::kNormal, -1e9f);
  Add(v, "<|user|>", TokenType::kUserDefined);
  v.bos_id = 1, v.eos_id = 2, v.unk_id = 0;
  return std::move(Tokenizer::Create(std::move(v))).value();
}

std::unique_ptr<Tokenizer> MakeByteLevel() {
  VocabData v;
  v.model = "gpt2";
  v.pre = "llama-bpe";
  for (int b = 0; b < 256; ++b) Add(v, std::string(leanlm::ByteToByteLevel(static_cast<uint8_t>(b))), TokenType::kNormal);
  const std::string g = "\xC4\xA0";
  const std::pair<std::string, std::string> merges[] = {{g, "t"}, {"h", "e"}, {g + "t", "he"}, {"i", "n"},
                                                        {"in", "g"}, {g, g},  {"1", "2"},      {"12", "3"}};
  for (const auto& [a, b] : merges) {
    v.merges.push_back(a + " " + b);
    Add(v, a + b, TokenType::kNormal);
  }
  Add(v, "<|begin_of_text|>", TokenType::kControl);
  Add(v, "<|eot_id|>", TokenType::kControl);
  Add(v, "<tool>", TokenType::kUserDefined);
  v.bos_id = static_cast<int32_t>(v.tokens.size()) - 3;
  v.eos_id = v.bos_id + 1;
  return std::move(Tokenizer::Create(std::move(v))).value();
}

void Check(const Tokenizer& tok, std::string_view text, bool add_special, bool parse_special, bool lossless) {
  auto ids = tok.Encode(text, add_special, parse_special);
  for (int32_t id : ids) {
    if (id < 0 || id >= tok.n_vocab()) std::abort();
  }
  if (add_special && tok.vocab().add_bos) {  // the added BOS is not part of the text
    if (ids.empty() || ids.front() != tok.bos()) std::abort();
    ids.erase(ids.begin());
  }
  const std::string back = tok.Decode(ids);
  if (lossless && back != text) std::abort();
  leanlm::StreamDecoder stream(tok, leanlm::DecodeOptions{});
  std::string joined;
  for (int32_t id : ids) {
    const std::string chunk = stream.Push(id);
    if (!leanlm::IsValidUtf8(chunk)) std::abort();
    joined += chunk;
  }
  joined += stream.Flush();
  if (joined != leanlm::SanitizeUtf8(back)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::unique_ptr<Tokenizer> spm = MakeSpm();
  static const std::unique_ptr<Tokenizer> bpe = MakeByteLevel();
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const bool add_special = flags & 1, parse_special = flags & 2;
  const bool spm_lossless = text.find("\xE2\x96\x81") == std::string_view::npos;
  Check(*spm, text, add_special, parse_special, spm_lossless);
  Check(*bpe, text, add_special, parse_special, true);
  return 0;
}
