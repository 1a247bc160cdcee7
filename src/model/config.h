// The hyper-parameters of a LLaMA-family model, in llama.cpp's vocabulary
// (GGUF keys `<arch>.embedding_length`, ...). Loaders of every format fill
// this one struct; the model reads nothing else.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace leanlm {

enum class RopeScaling { kNone, kLinear, kLlama3 };
enum class Activation { kSilu, kGeluTanh };

struct ModelConfig {
  std::string arch = "llama";  // GGUF general.architecture: llama, qwen2, phi3, gemma, ...
  int64_t n_vocab = 0;
  int64_t n_embd = 0;          // model width
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;       // < n_head: grouped-query attention
  int64_t n_ff = 0;            // FFN hidden width
  int64_t head_dim = 0;        // usually n_embd / n_head (Gemma differs)
  int64_t n_ctx_train = 2048;
  float norm_eps = 1e-5f;
  float rope_theta = 10000.0f;
  // RoPE layout: false rotates adjacent pairs (x[2i], x[2i+1]), the layout of
  // Meta's checkpoints, llama2.c and llama.cpp's GGUF for arch llama; true
  // rotates halves (x[i], x[i+d/2]), Hugging Face's rotate_half and
  // llama.cpp's NEOX mode (qwen2, phi3, gemma).
  bool rope_neox = false;
  int64_t rope_dim = 0;        // rotated dimensions per head (0 = head_dim)
  RopeScaling rope_scaling = RopeScaling::kNone;
  float rope_factor = 1.0f;            // linear: positions are divided by it; llama3: the factor
  float rope_low_freq_factor = 1.0f;   // llama3
  float rope_high_freq_factor = 4.0f;  // llama3
  int64_t rope_orig_ctx = 8192;        // llama3: original_max_position_embeddings
  bool tied_embeddings = false;        // output head reuses token_embd
  bool qkv_bias = false;               // Qwen2
  Activation activation = Activation::kSilu;
  float embed_scale = 1.0f;            // Gemma multiplies embeddings by sqrt(n_embd)

  int64_t q_dim() const { return n_head * head_dim; }
  int64_t kv_dim() const { return n_head_kv * head_dim; }
  int64_t rotary_dim() const { return rope_dim > 0 ? rope_dim : head_dim; }

  // Checks that the fields are present and consistent; `source` names the
  // file in the error.
  Status Validate(const std::string& source) const;
};

}  // namespace leanlm
