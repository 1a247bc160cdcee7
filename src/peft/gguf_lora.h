// llama.cpp's GGUF LoRA adapters (llama.cpp b4747: convert_lora_to_gguf.py
// writes them, src/llama-adapter.cpp reads them):
//   general.type = "adapter", adapter.type = "lora", general.architecture =
//   the base's, adapter.lora.alpha (float32; 0 or absent: scale 1);
//   tensors <base tensor name>.lora_a, ne {in, r}, and .lora_b, ne {r, out},
//   e.g. blk.3.attn_q.weight.lora_a. The scale is alpha / r (r = lora_b's ne[0]).
// The conversion applies the base model's tensor transforms to B, so for arch
// llama B's attn_q/attn_k rows are in llama.cpp's permuted (adjacent-pair)
// order: the layout of a GGUF of that architecture (RopeNeoxForArch).
#pragma once

#include <string>

#include "base/status.h"
#include "model/config.h"
#include "peft/adapter.h"

namespace leanlm {

// Reads a GGUF LoRA for a model of `config` (checked: architecture, target
// names and shapes). Tensors of any type that converts to F32 are accepted.
// "*_norm.weight" tensors (mergekit) are skipped with a warning, as llama.cpp does.
Result<Adapter> LoadGgufLora(const std::string& path, const ModelConfig& config);

// Writes a LoRA adapter as a GGUF LoRA (F32 tensors). rsLoRA is expressed by
// alpha' = alpha·sqrt(r), since llama.cpp always divides by r. DoRA has no
// GGUF form (an error: merge it instead); neither have prompt/prefix adapters.
Status SaveGgufLora(const Adapter& adapter, const ModelConfig& config, const std::string& path);

// Whether a file starts with the GGUF magic (to tell GGUF LoRA from a PEFT dir).
bool LooksLikeGguf(const std::string& path);

}  // namespace leanlm
