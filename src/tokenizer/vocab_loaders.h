// Vocabulary loaders for the formats that are not GGUF.
#pragma once

#include <string>

#include "tokenizer/vocab.h"

namespace leanlm {

// tokenizer.json (model.type BPE, with or without byte_fallback) plus the
// optional tokenizer_config.json beside it (special tokens, add_bos, chat template).
Result<VocabData> VocabFromTokenizerJson(const std::string& tokenizer_json_path,
                                         const std::string& tokenizer_config_path);
// Writes tokenizer.json and tokenizer_config.json for a vocabulary (HF export).
Status VocabToTokenizerJson(const VocabData& vocab, const std::string& tokenizer_json_path,
                            const std::string& tokenizer_config_path);
// llama2.c tokenizer.bin: max_token_length, then (score, len, bytes) per token.
Result<VocabData> VocabFromLlama2cTokenizer(const std::string& path);

}  // namespace leanlm
