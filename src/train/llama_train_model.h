// What a fine-tuning method trains on a LLaMA model, as the training graph
// (llama_train.h) sees it: the model's weights (frozen views of the base, or
// F32 master copies of the tensors full fine-tuning trains) and the extra
// modules of the PEFT methods — LoRA/DoRA on linear layers, bottleneck
// adapters after the sublayers, prompt embeddings, per-layer key/value
// prefixes. Every trainable tensor is a TrainTensor: an F32 value and a
// gradient of the same shape, owned here, in one list that drives the
// optimizer, counting and saving. peft_methods.h builds these.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/tensor.h"
#include "model/config.h"
#include "model/weights.h"
#include "peft/adapter_shapes.h"
#include "train/optim.h"

namespace leanlm {

struct TrainTensor {
  std::string name;                    // "blk.0.attn_q.weight", "blk.0.attn_q.lora_a", "prompt.embd", ...
  std::array<int64_t, 4> ne{1, 1, 1, 1};  // ggml shape
  int n_dims = 1;
  std::vector<float> value;            // F32 master copy
  std::vector<float> grad;             // same size; accumulated (+=) by the backward
  bool decay = true;                   // AdamW weight decay applies (not to norms, biases, magnitudes)

  int64_t size() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  // A view of value, for MatMul and the linear backward.
  TensorView view() const;
};

// The GGUF names of the linear layers of a block, by LinearSlot (the slots
// LoRA adapts, peft/adapter_shapes.h).
inline constexpr std::array<const char*, kLinearSlots> kLinearSlotNames = {
    "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};

// The input width of a block's linear layer (its weight's ne[0], unless the
// weight's rows are zero-padded, as QLoRA's NF4 of odd widths are).
inline int64_t LinearIn(const ModelConfig& c, LinearSlot slot) {
  return slot == LinearSlot::kO ? c.q_dim() : slot == LinearSlot::kDown ? c.n_ff : c.n_embd;
}

// LoRA on one linear layer W (ne {in, out}): y = W x + s · B (A dropout(x));
// DoRA when magnitude is set: y = m ⊙ (W x + s · B A dropout(x)) / ‖W + s · B A‖_row.
// (With dropout, PEFT's DoRA also feeds the dropped x to part of the base
// term; without dropout, PEFT's default for DoRA, the two agree.)
struct LoraModule {
  int64_t in = 0, out = 0, r = 0;
  float scale = 1;                   // s: alpha / r, or alpha / sqrt(r) (rsLoRA)
  TrainTensor* a = nullptr;          // ne {in, r}
  TrainTensor* b = nullptr;          // ne {r, out}
  TrainTensor* magnitude = nullptr;  // (out): DoRA; null for LoRA
};

// Houlsby bottleneck on a sublayer's output u (n_embd) before the residual:
// u + up · gelu_tanh(down · u + down_bias) + up_bias.
struct BottleneckModule {
  int64_t dim = 0, hidden = 0;
  TrainTensor* down = nullptr;       // ne {dim, hidden}
  TrainTensor* down_bias = nullptr;  // (hidden)
  TrainTensor* up = nullptr;         // ne {hidden, dim}
  TrainTensor* up_bias = nullptr;    // (dim)
};

struct LayerTrainables {
  std::array<LoraModule*, kLinearSlots> lora{};  // null: the layer is not adapted
  BottleneckModule* adapter_attn = nullptr;
  BottleneckModule* adapter_ffn = nullptr;
};

// Prefix tuning: n_virtual keys and values per layer, either trained
// directly (embd ne {n_layer * 2 * kv_dim, n_virtual}: row p holds layer 0's
// key, layer 0's value, layer 1's key, ...) or produced from embd
// (ne {token_dim, n_virtual}) by the reparameterization MLP
// mlp2 · tanh(mlp1 · e + b1) + b2.
struct PrefixModule {
  int64_t n_virtual = 0;
  TrainTensor* embd = nullptr;
  TrainTensor* mlp1 = nullptr;       // ne {token_dim, hidden}, or null (no MLP)
  TrainTensor* mlp1_bias = nullptr;  // (hidden)
  TrainTensor* mlp2 = nullptr;       // ne {hidden, n_layer * 2 * kv_dim}
  TrainTensor* mlp2_bias = nullptr;  // (n_layer * 2 * kv_dim)
};

struct TrainableModel {
  ModelConfig config;
  // Views the graph computes with: the frozen base (any type, possibly
  // converted to NF4 by qlora) or the value of a TrainTensor (F32).
  ModelWeights weights;
  std::vector<std::unique_ptr<TrainTensor>> tensors;  // every trainable tensor, in a stable order
  std::unordered_map<const void*, TrainTensor*> weight_grads;  // base weight data -> its trainable tensor
  std::vector<LayerTrainables> layers;                // (n_layer)
  std::vector<std::unique_ptr<LoraModule>> lora_modules;
  std::vector<std::unique_ptr<BottleneckModule>> bottlenecks;
  TrainTensor* prompt = nullptr;  // ne {n_embd, n_virtual}: prompt tuning's virtual-token embeddings
  PrefixModule prefix;            // n_virtual == 0: none
  float lora_dropout = 0;         // LoRA's dropout probability on its input (training forward only)
  bool dora_detach_norm = false;  // DoRA: treat ‖W + s B A‖ as a constant in the backward (PEFT does)
  std::vector<std::vector<uint8_t>> owned;  // bytes of converted base weights (qlora's NF4)

  // The gradient buffer of a weight the graph reads, or null when frozen.
  float* GradOf(const TensorView& w) const {
    const auto it = weight_grads.find(w.data);
    return it == weight_grads.end() ? nullptr : it->second->grad.data();
  }
  int64_t n_virtual_tokens() const { return prompt != nullptr ? prompt->ne[1] : 0; }
  int64_t n_trainable() const;
  // Every parameter of the model (frozen base and trainable extras); a
  // trainable base tensor counts once.
  int64_t n_total() const;
  void ZeroGrads();
  // Views of every trainable tensor for the optimizer and checkpoints.
  std::vector<TrainParam> Params();
  // Appends a tensor (zero value and gradient) and returns it.
  TrainTensor* AddTensor(std::string name, std::array<int64_t, 4> ne, int n_dims, bool decay);
};

}  // namespace leanlm
