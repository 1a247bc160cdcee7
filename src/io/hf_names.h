// Tensor names: Hugging Face's (model.layers.N.self_attn.q_proj.weight) and
// llama.cpp's (blk.N.attn_q.weight), the names ModelSource uses. Phi-3's
// fused projections map to llama.cpp's names for fused tensors: qkv_proj ->
// attn_qkv, gate_up_proj -> ffn_up (2 * n_ff rows, gate first).
#pragma once

#include <string>

namespace leanlm {

enum class HfNameKind {
  kMapped,   // gguf_name holds the llama.cpp name
  kIgnored,  // a buffer, not a weight (rotary_emb.inv_freq)
  kUnknown,  // no llama.cpp name: the caller warns and skips it
};

struct HfNameMapping {
  HfNameKind kind = HfNameKind::kUnknown;
  std::string gguf_name;
};

HfNameMapping HfToGgufName(const std::string& hf_name);

// The HF name of a llama.cpp tensor for a model of `arch` (phi3's ffn_up is
// its fused gate_up_proj); empty when HF has none.
std::string GgufToHfName(const std::string& gguf_name, const std::string& arch);

}  // namespace leanlm
