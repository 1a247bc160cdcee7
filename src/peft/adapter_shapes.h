// What an adapter may touch in a model of a given config, and checks that it
// fits: LoRA targets by GGUF name and shape, prompt widths, prefix K/V widths.
// Also the Q/K row permutation between the RoPE layouts of the files and the
// model (see adapter.h for the layout convention).
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "model/config.h"
#include "peft/adapter.h"

namespace leanlm {

// The linear layers of a layer that LoRA can adapt, in the model's order.
enum class LinearSlot { kQ, kK, kV, kO, kGate, kUp, kDown };
inline constexpr int kLinearSlots = 7;

struct AdaptedLinear {
  int64_t layer = 0;
  LinearSlot slot = LinearSlot::kQ;
  int64_t in = 0, out = 0;  // the weight's ne {in, out}
  int64_t rope_heads = 0;   // heads whose rows RoPE rotates (attn_q: n_head, attn_k: n_head_kv), else 0
};

// "blk.3.attn_q.weight" -> layer 3, kQ, its shape in `config`. Errors name the
// tensor: not a per-layer linear weight LoRA supports here (embeddings, the
// head, norms, fused Phi-3 projections), or a layer the model does not have.
Result<AdaptedLinear> FindAdaptedLinear(const ModelConfig& config, const std::string& gguf_name);

// "blk.3.attn_q.weight" for (3, kQ).
std::string LinearWeightName(int64_t layer, LinearSlot slot);

// Checks every size against `config`: LoRA targets exist, in/out match the
// weight, a and b hold r × in and out × r values, magnitudes `out` (all
// targets or none), no target twice; prompt width n_embd; prefix layers and
// kv_dim. `source` names the adapter in messages.
Status ValidateAdapter(const Adapter& adapter, const ModelConfig& config, const std::string& source);

// Reorders the rows of B and the magnitudes of attn_q/attn_k targets, and the
// head dimension of prefix keys, from RoPE layout `from_neox` (true: halves)
// to `to_neox`; nothing moves when they agree. The adapter must be valid.
Status ConvertAdapterLayout(Adapter& adapter, const ModelConfig& config, bool from_neox, bool to_neox);

}  // namespace leanlm
