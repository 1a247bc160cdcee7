// Vocabulary loaders for the formats that are not GGUF.
#pragma once

#include <string>
#include <string_view>

#include "tokenizer/vocab.h"

namespace leanlm {

// tokenizer.json (model.type BPE, with or without byte_fallback) plus the
// optional tokenizer_config.json beside it (special tokens, add_bos, chat
// template); an empty config path or a missing config file means none.
Result<VocabData> VocabFromTokenizerJson(const std::string& tokenizer_json_path,
                                         const std::string& tokenizer_config_path);
// The same from text already in memory (the fuzz entry point); `name` is used
// in error messages, `config_json` may be empty.
Result<VocabData> VocabFromTokenizerJsonText(std::string_view tokenizer_json, std::string_view config_json,
                                             const std::string& name);
// Writes tokenizer.json and tokenizer_config.json for a vocabulary (HF export).
Status VocabToTokenizerJson(const VocabData& vocab, const std::string& tokenizer_json_path,
                            const std::string& tokenizer_config_path);
// llama2.c tokenizer.bin: max_token_length, then (score, len, bytes) per token.
Result<VocabData> VocabFromLlama2cTokenizer(const std::string& path);
Result<VocabData> VocabFromLlama2cTokenizerBytes(std::string_view data, const std::string& name);

}  // namespace leanlm
