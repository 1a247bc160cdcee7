#include "model/weights.h"

#include <algorithm>
#include <initializer_list>

namespace leanlm {
namespace {

std::string ShapeString(const WeightSpec& spec) {
  std::string s = "[";
  for (int i = 0; i < spec.n_dims; ++i) s += (i ? ", " : "") + std::to_string(spec.ne[static_cast<size_t>(i)]);
  return s + "]";
}

// Binds spec.name from `tensors` into view after checking its shape and
// type; a missing optional tensor leaves view invalid.
Status Bind(const TensorMap& tensors, const std::string& source, const WeightSpec& spec, TensorView& view) {
  const auto it = tensors.find(spec.name);
  if (it == tensors.end()) {
    if (!spec.required) return Status::Ok();
    return Status::Error(source + ": missing tensor '" + spec.name + "' (expected shape " + ShapeString(spec) + ")");
  }
  const TensorView& t = it->second;
  if (t.ne != spec.ne || t.n_dims < 1 || t.n_dims > 4) {
    return Status::Error(source + ": tensor '" + spec.name + "' has shape " + t.shape_string() + ", expected " +
                         ShapeString(spec));
  }
  const TypeTraits* traits = FindTypeTraits(t.type);
  if (traits == nullptr || traits->to_float == nullptr) {
    return Status::Error(source + ": tensor '" + spec.name + "' has type " + TypeName(t.type) +
                         ", which cannot be used as a weight");
  }
  if (!RowBytes(t.type, t.ne[0]).ok()) {
    return Status::Error(source + ": tensor '" + spec.name + "' of type " + traits->name + " has rows of " +
                         std::to_string(t.ne[0]) + " elements, not a multiple of the block size " +
                         std::to_string(traits->block_size));
  }
  if (t.data == nullptr) return Status::Error(source + ": tensor '" + spec.name + "' has no data");
  view = t;
  return Status::Ok();
}

// Rows [first, first + rows) of a 2-D weight, as a view of the same bytes.
TensorView RowSlice(const TensorView& t, int64_t first, int64_t rows) {
  TensorView slice = t;
  slice.data = t.row(first);
  slice.ne[1] = rows;
  return slice;
}

// Phi-3 stores fused projections (llama.cpp's names, from HF's qkv_proj and
// gate_up_proj): attn_qkv = q rows, then k rows, then v rows; ffn_up with
// 2·n_ff rows = gate rows, then up rows. They become views of the separate
// weights the forward uses, with no copy. A fused tensor of the wrong shape
// is reported by name.
Result<TensorMap> SplitFusedWeights(const ModelConfig& config, const TensorMap& tensors, const std::string& source) {
  TensorMap split = tensors;
  const int64_t d = config.n_embd, q = config.q_dim(), kv = config.kv_dim(), ff = config.n_ff;
  for (int64_t l = 0; l < config.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    if (auto it = tensors.find(p + "attn_qkv.weight"); it != tensors.end() && !tensors.count(p + "attn_q.weight")) {
      const TensorView& t = it->second;
      if (t.n_dims != 2 || t.ne[0] != d || t.ne[1] != q + 2 * kv) {
        return Status::Error(source + ": fused tensor '" + it->first + "' has shape " + t.shape_string() +
                             ", expected [" + std::to_string(d) + ", " + std::to_string(q + 2 * kv) + "]");
      }
      split[p + "attn_q.weight"] = RowSlice(t, 0, q);
      split[p + "attn_k.weight"] = RowSlice(t, q, kv);
      split[p + "attn_v.weight"] = RowSlice(t, q + kv, kv);
    }
    if (auto it = tensors.find(p + "ffn_up.weight"); it != tensors.end() && !tensors.count(p + "ffn_gate.weight")) {
      const TensorView& t = it->second;
      if (t.n_dims != 2 || t.ne[0] != d || t.ne[1] != 2 * ff) {
        return Status::Error(source + ": tensor '" + it->first + "' without ffn_gate (fused gate and up) has shape " +
                             t.shape_string() + ", expected [" + std::to_string(d) + ", " + std::to_string(2 * ff) +
                             "]");
      }
      split[p + "ffn_gate.weight"] = RowSlice(t, 0, ff);
      split[p + "ffn_up.weight"] = RowSlice(t, ff, ff);
    }
  }
  return split;
}

}  // namespace

Status ForEachTensor(const ModelConfig& config, ModelWeights& weights,
                     const std::function<Status(const WeightSpec& spec, TensorView& view)>& fn) {
  const int64_t d = config.n_embd, q = config.q_dim(), kv = config.kv_dim(), ff = config.n_ff;
  auto visit = [&](std::string name, std::initializer_list<int64_t> ne, bool required, TensorView& view) {
    WeightSpec spec;
    spec.name = std::move(name);
    spec.n_dims = static_cast<int>(ne.size());
    std::copy(ne.begin(), ne.end(), spec.ne.begin());
    spec.required = required;
    return fn(spec, view);
  };
  LEANLM_RETURN_IF_ERROR(visit("token_embd.weight", {d, config.n_vocab}, true, weights.token_embd));
  LEANLM_RETURN_IF_ERROR(visit("rope_freqs.weight", {config.rotary_dim() / 2}, false, weights.rope_freqs));
  weights.layers.resize(static_cast<size_t>(config.n_layer));
  for (int64_t l = 0; l < config.n_layer; ++l) {
    LayerWeights& L = weights.layers[static_cast<size_t>(l)];
    const std::string p = "blk." + std::to_string(l) + ".";
    LEANLM_RETURN_IF_ERROR(visit(p + "attn_norm.weight", {d}, true, L.attn_norm));
    LEANLM_RETURN_IF_ERROR(visit(p + "attn_q.weight", {d, q}, true, L.wq));
    LEANLM_RETURN_IF_ERROR(visit(p + "attn_k.weight", {d, kv}, true, L.wk));
    LEANLM_RETURN_IF_ERROR(visit(p + "attn_v.weight", {d, kv}, true, L.wv));
    LEANLM_RETURN_IF_ERROR(visit(p + "attn_q.bias", {q}, config.qkv_bias, L.bq));
    LEANLM_RETURN_IF_ERROR(visit(p + "attn_k.bias", {kv}, config.qkv_bias, L.bk));
    LEANLM_RETURN_IF_ERROR(visit(p + "attn_v.bias", {kv}, config.qkv_bias, L.bv));
    LEANLM_RETURN_IF_ERROR(visit(p + "attn_output.weight", {q, d}, true, L.wo));
    LEANLM_RETURN_IF_ERROR(visit(p + "ffn_norm.weight", {d}, true, L.ffn_norm));
    LEANLM_RETURN_IF_ERROR(visit(p + "ffn_gate.weight", {d, ff}, true, L.ffn_gate));
    LEANLM_RETURN_IF_ERROR(visit(p + "ffn_up.weight", {d, ff}, true, L.ffn_up));
    LEANLM_RETURN_IF_ERROR(visit(p + "ffn_down.weight", {ff, d}, true, L.ffn_down));
  }
  LEANLM_RETURN_IF_ERROR(visit("output_norm.weight", {d}, true, weights.output_norm));
  return visit("output.weight", {d, config.n_vocab}, false, weights.output);
}

Result<ModelWeights> BindWeights(const ModelConfig& config, const TensorMap& tensors, const std::string& source) {
  LEANLM_RETURN_IF_ERROR(config.Validate(source));
  LEANLM_ASSIGN_OR_RETURN(const TensorMap split, SplitFusedWeights(config, tensors, source));
  ModelWeights w;
  LEANLM_RETURN_IF_ERROR(ForEachTensor(config, w, [&](const WeightSpec& spec, TensorView& view) {
    return Bind(split, source, spec, view);
  }));
  if (!w.output.valid()) w.output = w.token_embd;  // tied head
  return w;
}

}  // namespace leanlm
