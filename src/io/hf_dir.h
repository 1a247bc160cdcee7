// Hugging Face model directories: config.json, model.safetensors or shards
// listed in model.safetensors.index.json, tokenizer.json (+ tokenizer_config.json).
// Tensors are renamed to llama.cpp's names on load (model.layers.N.self_attn.q_proj
// -> blk.N.attn_q) and shapes reversed to ggml order; no data is copied.
// HF checkpoints rotate halves in RoPE, so the loaded config has rope_neox = true.
#pragma once

#include <cstdint>
#include <string>

#include "io/model_source.h"

namespace leanlm {

Result<ModelSource> LoadHfDir(const std::string& dir, const LoadOptions& options);

// Writes `source` (llama.cpp names) as an HF directory: config.json,
// model.safetensors, tokenizer.json and tokenizer_config.json. For arch llama
// stored with rope_neox == false, Q/K rows are permuted to HF's layout.
Status SaveHfDir(const ModelSource& source, const std::string& dir);

// The parts of LoadHfDir/SaveHfDir without the vocabulary: config.json and
// the safetensors weights. LoadHfModelFiles leaves `vocab` empty.
Result<ModelSource> LoadHfModelFiles(const std::string& dir, const LoadOptions& options);
Status SaveHfModelFiles(const ModelSource& source, const std::string& dir);

// The HF config.json <-> ModelConfig mapping (model_type, hidden_size, ...).
// Supported model_type: llama, mistral, qwen2, phi3, gemma. Every error
// names `source` and the key.
Result<ModelConfig> ConfigFromHfJson(const std::string& json_text, const std::string& source);

// Fields of config.json that ModelConfig does not hold; empty/negative = omitted.
struct HfConfigExtras {
  std::string torch_dtype;  // "float32", "float16", "bfloat16"
  int64_t bos_token_id = -1;
  int64_t eos_token_id = -1;
};
// config.json text (sorted keys, 2-space indent, as transformers writes it),
// with "architectures". An error when the config cannot be expressed in HF's
// terms (an arch without an HF class, Gemma without its embedding scale, ...);
// what it writes reads back through ConfigFromHfJson to the same config.
Result<std::string> ConfigToHfJson(const ModelConfig& config, const HfConfigExtras& extras = {});

}  // namespace leanlm
