// A tokenizer's data in GGUF's vocabulary (tokenizer.ggml.*), whatever file
// it came from: GGUF metadata, tokenizer.json, or a llama2.c tokenizer.bin.
#pragma once

#include <cstdint>
#include <string>
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

  Status Validate(const std::string& source) const;
};

Result<VocabData> VocabFromGguf(const GgufFile& gguf);
void VocabToGguf(const VocabData& vocab, GgufWriter& writer);

}  // namespace leanlm
