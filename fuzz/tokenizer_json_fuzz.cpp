// libFuzzer target for the tokenizer.json reader: arbitrary text as
// tokenizer.json (and, after a NUL byte, as tokenizer_config.json). A
// vocabulary that loads must also build a tokenizer that encodes and decodes
// without crashing, and byte-level ones must give text back unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab_loaders.h"

namespace {

// Byte-level BPE is lossless when each byte's character is a token that text can produce.
bool CoversAllBytes(const leanlm::Tokenizer& tok) {
  if (tok.vocab().model != "gpt2") return false;
  for (int b = 0; b < 256; ++b) {
    const int32_t id = tok.TokenId(leanlm::ByteToByteLevel(static_cast<uint8_t>(b)));
    const leanlm::TokenType t = tok.type(id);
    if (id < 0 || t == leanlm::TokenType::kControl || t == leanlm::TokenType::kUnknown ||
        t == leanlm::TokenType::kByte) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view json = input.substr(0, nul);
  const std::string_view config = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
  auto vocab = leanlm::VocabFromTokenizerJsonText(json, config, "fuzz.json");
  if (!vocab.ok()) return 0;
  auto tok = leanlm::Tokenizer::Create(std::move(vocab).value());
  if (!tok.ok()) return 0;
  const bool lossless = CoversAllBytes(**tok);
  for (std::string_view text : {std::string_view("Hello world <s> 12345 \xC3\xA9\xF0\x9F\xA6\x99\n\n  x"), json.substr(0, 64)}) {
    for (bool special : {false, true}) {
      const auto ids = (*tok)->Encode(text, special, special);
      for (int32_t id : ids) {
        if (id < 0 || id >= (*tok)->n_vocab()) std::abort();
      }
      const std::string back = (*tok)->Decode(ids);
      if (lossless && !special && back != text) std::abort();
    }
  }
  return 0;
}
