// Parameter-efficient adapters in memory: LoRA (and DoRA), prompt tuning and
// prefix tuning. Plain data: the trainer fills and updates these vectors, the
// file readers/writers (peft_format.h, gguf_lora.h) convert them to and from
// files, and LlamaModel applies them unmerged at inference.
//
// Layout convention: every tensor here is in the layout of the model it is
// applied to. In particular, rows of B (and DoRA magnitudes) of attn_q/attn_k
// and the head dimension of prefix keys follow that model's RoPE layout
// (ModelConfig::rope_neox: halves when true, adjacent pairs when false), as
// its wq/wk do. The file formats fix their own layout (PEFT: always HF's
// halves; llama.cpp GGUF: its architecture's), and the readers and writers
// take the base config to permute rows on the way.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace leanlm {

// One adapted linear layer W (ne {in, out}, PyTorch [out, in]):
//   LoRA: y = W x + s · B (A x)
//   DoRA: y = m ⊙ (W x + s · B (A x)) / ‖W + s · B A‖_row
// where s = LoraAdapter::scale() times the user's scale and the norm is
// taken per output row (over the `in` inputs), as PEFT's DoRA does.
struct LoraTarget {
  std::string weight;            // GGUF name of W: "blk.3.attn_q.weight"
  int64_t in = 0, out = 0;       // W's ne {in, out}
  std::vector<float> a;          // ne {in, r}: r rows of `in` (torch lora_A.weight [r, in])
  std::vector<float> b;          // ne {r, out}: `out` rows of r (torch lora_B.weight [out, r])
  std::vector<float> magnitude;  // DoRA: (out) the magnitude m; empty for plain LoRA
};

struct LoraAdapter {
  int64_t r = 0;                  // rank
  float alpha = 0;                // lora_alpha
  bool rslora = false;            // scale alpha / sqrt(r) (rsLoRA) instead of alpha / r
  float dropout = 0;              // lora_dropout: training only, kept for the config file
  std::vector<LoraTarget> targets;

  float scale() const {
    return rslora ? alpha / std::sqrt(static_cast<float>(r)) : alpha / static_cast<float>(r);
  }
  bool dora() const { return !targets.empty() && !targets.front().magnitude.empty(); }
};

// Prompt tuning: n_virtual learned embeddings fed before the tokens.
struct PromptAdapter {
  int64_t n_virtual = 0;
  int64_t n_embd = 0;
  std::vector<float> embeddings;  // (n_virtual, n_embd)
};

// Prefix tuning: n_virtual learned keys and values prepended in every layer's
// attention (keys as attention sees them, i.e. already rotated).
// `projection` records PEFT's prefix_projection option: the stored keys and
// values are the reparameterization MLP's output either way.
struct PrefixAdapter {
  int64_t n_virtual = 0;
  int64_t n_layer = 0;
  int64_t kv_dim = 0;                      // n_head_kv * head_dim
  bool projection = false;
  int64_t encoder_hidden = 0;              // PEFT encoder_hidden_size (config only)
  std::vector<std::vector<float>> keys;    // n_layer × (n_virtual, n_head_kv, head_dim)
  std::vector<std::vector<float>> values;  // n_layer × (n_virtual, n_head_kv, head_dim)
};

// One adapter as a user applies it. `scale` multiplies LoRA's update (1: as
// trained); prompt and prefix adapters take no scale (must be 1).
struct Adapter {
  std::variant<LoraAdapter, PromptAdapter, PrefixAdapter> value;
  float scale = 1.0f;
  std::string name;                  // where it came from, for messages
  std::string base_model;            // base_model_name_or_path / general.name when known (informational)
  std::vector<std::string> target_modules;  // PEFT target_modules as found/written ("q_proj", ...)

  const LoraAdapter* lora() const { return std::get_if<LoraAdapter>(&value); }
  const PromptAdapter* prompt() const { return std::get_if<PromptAdapter>(&value); }
  const PrefixAdapter* prefix() const { return std::get_if<PrefixAdapter>(&value); }
  LoraAdapter* lora() { return std::get_if<LoraAdapter>(&value); }
  PromptAdapter* prompt() { return std::get_if<PromptAdapter>(&value); }
  PrefixAdapter* prefix() { return std::get_if<PrefixAdapter>(&value); }
};

}  // namespace leanlm
