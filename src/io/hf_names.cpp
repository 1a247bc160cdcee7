#include "io/hf_names.h"

#include <cstdint>
#include <optional>

namespace leanlm {
namespace {

struct NamePair {
  const char* hf;    // after "model.layers.N." (per layer) or whole (global)
  const char* gguf;  // after "blk.N." (per layer) or whole (global)
};

constexpr NamePair kLayerNames[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.v_proj.bias", "attn_v.bias"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.o_proj.bias", "attn_output.bias"},
    {"self_attn.qkv_proj.weight", "attn_qkv.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
    {"mlp.gate_up_proj.weight", "ffn_up.weight"},  // Phi-3: listed after up_proj so the reverse finds up_proj first
};

constexpr NamePair kGlobalNames[] = {
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
};

constexpr int64_t kMaxLayer = 1 << 20;

// "<prefix>N.<rest>" -> (N, rest) with N a plain decimal (no sign or leading zero).
std::optional<std::pair<int64_t, std::string>> SplitLayer(const std::string& name, const std::string& prefix) {
  if (name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  size_t i = prefix.size();
  int64_t layer = 0;
  const size_t digits_begin = i;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9') {
    layer = layer * 10 + (name[i] - '0');
    if (layer >= kMaxLayer) return std::nullopt;
    ++i;
  }
  const size_t digits = i - digits_begin;
  if (digits == 0 || (digits > 1 && name[digits_begin] == '0')) return std::nullopt;
  if (i >= name.size() || name[i] != '.') return std::nullopt;
  return std::make_pair(layer, name.substr(i + 1));
}

}  // namespace

HfNameMapping HfToGgufName(const std::string& hf_name) {
  for (const NamePair& p : kGlobalNames) {
    if (hf_name == p.hf) return {HfNameKind::kMapped, p.gguf};
  }
  const auto layer = SplitLayer(hf_name, "model.layers.");
  if (!layer) return {};
  if (layer->second == "self_attn.rotary_emb.inv_freq") return {HfNameKind::kIgnored, ""};
  for (const NamePair& p : kLayerNames) {
    if (layer->second == p.hf) return {HfNameKind::kMapped, "blk." + std::to_string(layer->first) + "." + p.gguf};
  }
  return {};
}

std::string GgufToHfName(const std::string& gguf_name, const std::string& arch) {
  for (const NamePair& p : kGlobalNames) {
    if (gguf_name == p.gguf) return p.hf;
  }
  const auto layer = SplitLayer(gguf_name, "blk.");
  if (!layer) return "";
  const std::string prefix = "model.layers." + std::to_string(layer->first) + ".";
  if (arch == "phi3" && layer->second == "ffn_up.weight") return prefix + "mlp.gate_up_proj.weight";
  for (const NamePair& p : kLayerNames) {
    if (layer->second == p.gguf) return prefix + p.hf;
  }
  return "";
}

}  // namespace leanlm
