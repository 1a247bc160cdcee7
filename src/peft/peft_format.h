// Hugging Face PEFT adapter directories: adapter_config.json +
// adapter_model.safetensors, for LoRA (and DoRA), prompt tuning and prefix
// tuning, with PEFT's config keys and tensor names (checked against
// huggingface/peft: tuners/lora/model.py, utils/save_and_load.py,
// peft_model.py get_prompt, utils/other.py _prepare_prompt_learning_config):
//
//   LoRA on model.layers.N.self_attn.q_proj (adapter name stripped on save):
//     base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight   [r, in]
//     base_model.model.model.layers.N.self_attn.q_proj.lora_B.weight   [out, r]
//     base_model.model.model.layers.N.self_attn.q_proj.lora_magnitude_vector  [out]  (DoRA;
//       PEFT writes it without ".weight" for compatibility with PEFT 0.9's ParameterDict;
//       ".lora_magnitude_vector.weight" is accepted on load too)
//   prompt tuning:  prompt_embeddings [num_virtual_tokens, token_dim = n_embd]
//   prefix tuning:  prompt_embeddings [num_virtual_tokens, num_layers * 2 * token_dim], token_dim =
//     n_head_kv * head_dim (PEFT's GQA rule); each row is get_prompt's view
//     (num_layers * 2, num_heads = n_head_kv, head_dim): layer l's keys at 2l, values at 2l + 1.
//     With prefix_projection PEFT saves the MLP's output (the same shape), so
//     leanlm writes inference_mode true: PEFT then reloads it as an embedding.
//
// PEFT's tensors are in Hugging Face's Q/K layout (rotate_half); they are
// permuted to the model's layout on load and back on save (see adapter.h).
// Scaling: lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora.
#pragma once

#include <string>

#include "base/status.h"
#include "model/config.h"
#include "peft/adapter.h"

namespace leanlm {

inline constexpr const char* kPeftConfigFile = "adapter_config.json";
inline constexpr const char* kPeftWeightsFile = "adapter_model.safetensors";

// Reads the directory for a model of `config`; the result is validated
// against it (ValidateAdapter). Errors name the file and key or tensor:
// unsupported options (bias other than "none", rank_pattern, modules_to_save,
// fan_in_fan_out, ...), unknown or missing tensors, wrong shapes.
Result<Adapter> LoadPeftAdapter(const std::string& dir, const ModelConfig& config);

// Writes the two files into `dir` (created if missing), F32 tensors,
// atomically each. `adapter.base_model` becomes base_model_name_or_path.
Status SavePeftAdapter(const Adapter& adapter, const ModelConfig& config, const std::string& dir);

}  // namespace leanlm
