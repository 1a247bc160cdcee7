// A tokenizer's data in GGUF's vocabulary (tokenizer.ggml.*), whatever file
// it came from: GGUF metadata, tokenizer.json, or a llama2.c tokenizer.bin.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace leanlm {

class GgufFile;
class GgufWriter;

// Token types as GGUF stores them (llama.cpp's llama_token_type).
enum class TokenType : int32_t {
  kUndefined = 0, kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6,
};

struct VocabData {
  std::string model;  // "llama" (SentencePiece BPE with scores) or "gpt2" (byte-level BPE with merges)
  std::string pre = "default";  // pre-tokenizer: default, llama-bpe, qwen2, gpt-2, starcoder, falcon, deepseek-coder, ...
  std::vector<std::string> tokens;
  std::vector<float> scores;         // SentencePiece merge priorities (may be empty for gpt2)
  std::vector<int32_t> token_types;  // TokenType per token (may be empty: all normal)
  std::vector<std::string> merges;   // "a b" pairs, byte-level BPE only, highest priority first
  int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1, eot_id = -1;
  bool add_bos = true;
  bool add_eos = false;
  bool add_space_prefix = true;  // SentencePiece dummy prefix
  std::string chat_template;     // Jinja source, or empty

  // Checks that the parts agree: known model and pre-tokenizer, array sizes,
  // token types, ids in range, tokens valid UTF-8, merges of known tokens.
  // Errors start with `source` (a file name).
  Status Validate(const std::string& source) const;
  // All of Validate() but the merges, for a caller that checks them while
  // building its own merge table (Tokenizer::Create).
  Status ValidateExceptMerges(const std::string& source) const;

  TokenType type(int32_t id) const {
    return token_types.empty() ? TokenType::kNormal : static_cast<TokenType>(token_types[id]);
  }
  float score(int32_t id) const { return scores.empty() ? 0.0f : scores[id]; }
};

// The byte a SentencePiece byte token "<0xNN>" stands for, or -1.
int ParseByteToken(std::string_view text);
// "<0xNN>" with upper-case hex digits, as SentencePiece names byte pieces.
std::string ByteTokenText(uint8_t byte);

// The pre-tokenizer names the byte-level BPE tokenizer knows.
const std::vector<std::string>& SupportedPreTokenizers();

// Reads tokenizer.ggml.* and tokenizer.chat_template, with llama.cpp's
// defaults for absent keys (BOS/EOS/UNK ids per model, add_bos, add_space_prefix).
Result<VocabData> VocabFromGguf(const GgufFile& gguf);
void VocabToGguf(const VocabData& vocab, GgufWriter& writer);

}  // namespace leanlm
