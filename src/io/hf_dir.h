// Hugging Face model directories: config.json, model.safetensors or shards
// listed in model.safetensors.index.json, tokenizer.json (+ tokenizer_config.json).
// Tensors are renamed to llama.cpp's names on load (model.layers.N.self_attn.q_proj
// -> blk.N.attn_q) and shapes reversed to ggml order; no data is copied.
// HF checkpoints rotate halves in RoPE, so the loaded config has rope_neox = true.
#pragma once

#include <string>

#include "io/model_source.h"

namespace leanlm {

Result<ModelSource> LoadHfDir(const std::string& dir, const LoadOptions& options);

// Writes `source` (llama.cpp names) as an HF directory: config.json,
// model.safetensors, tokenizer.json and tokenizer_config.json. For arch llama
// stored with rope_neox == false, Q/K rows are permuted to HF's layout.
Status SaveHfDir(const ModelSource& source, const std::string& dir);

// The HF config.json <-> ModelConfig mapping (model_type, hidden_size, ...).
Result<ModelConfig> ConfigFromHfJson(const std::string& json_text, const std::string& source);

}  // namespace leanlm
