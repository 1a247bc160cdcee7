// The weights of a LLaMA-family model as views, bound by llama.cpp's tensor
// names (token_embd, blk.N.attn_q, ...) from whatever file they came from.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "model/config.h"

namespace leanlm {

using TensorMap = std::map<std::string, TensorView>;

struct LayerWeights {
  TensorView attn_norm;                 // (n_embd)
  TensorView wq, wk, wv, wo;            // ne {n_embd, q_dim}, {n_embd, kv_dim} x2, {q_dim, n_embd}
  TensorView bq, bk, bv;                // optional biases (q_dim), (kv_dim) x2
  TensorView ffn_norm;                  // (n_embd)
  TensorView ffn_gate, ffn_up;          // ne {n_embd, n_ff}
  TensorView ffn_down;                  // ne {n_ff, n_embd}
};

struct ModelWeights {
  TensorView token_embd;   // ne {n_embd, n_vocab}
  TensorView output_norm;  // (n_embd)
  TensorView output;       // ne {n_embd, n_vocab}; == token_embd when tied
  TensorView rope_freqs;   // optional (rotary_dim / 2): divisors of each RoPE frequency
                           // (llama.cpp stores Llama-3.1's scaling this way)
  std::vector<LayerWeights> layers;
};

// One weight as the config defines it.
struct WeightSpec {
  std::string name;                 // GGUF name: "token_embd.weight", "blk.3.attn_q.weight", ...
  std::array<int64_t, 4> ne{1, 1, 1, 1};  // ggml shape
  int n_dims = 1;
  bool required = true;             // false: biases (unless config.qkv_bias), output (absent: tied), rope_freqs
};

// Calls fn(spec, view) for every weight of the model, in GGUF order, with the
// member of `weights` that holds it; stops at the first error and returns
// it. This one list drives binding (and later saving, gradients and the
// optimizer). Optional weights are visited whether bound or not.
Status ForEachTensor(const ModelConfig& config, ModelWeights& weights,
                     const std::function<Status(const WeightSpec& spec, TensorView& view)>& fn);

// Binds views by GGUF name and checks every shape against the config; an
// error names the tensor, its shape and the shape expected. Biases are bound
// when present (required when config.qkv_bias); a missing output.weight ties
// the head to token_embd. Every weight's type must convert to F32.
Result<ModelWeights> BindWeights(const ModelConfig& config, const TensorMap& tensors, const std::string& source);

}  // namespace leanlm
