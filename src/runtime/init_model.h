// Models with random weights and real shapes (`leanlm init`), so tests and
// benchmarks get models of any size with no download. The vocabulary is a
// synthetic SentencePiece-style one (byte fallback, so any text encodes).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "model/config.h"
#include "tokenizer/vocab.h"

namespace leanlm {

struct ModelPreset {
  std::string name;
  std::string description;
  ModelConfig config;
};

const std::vector<ModelPreset>& ModelPresets();
Result<ModelPreset> FindModelPreset(const std::string& name);

// A SentencePiece-style vocabulary of n_vocab tokens: <unk>, <s>, </s>, the
// 256 byte tokens, then printable pieces; scores favour shorter pieces.
VocabData SyntheticVocab(int64_t n_vocab);

struct InitOptions {
  DType type = DType::kF16;  // matrices; norms stay F32 as in llama.cpp's files
  uint64_t seed = 0;
  float init_std = 0.02f;
};

// Writes a GGUF with random weights for the config.
Status WriteRandomModel(const ModelConfig& config, const InitOptions& options, const std::string& path);

}  // namespace leanlm
