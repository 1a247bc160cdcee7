#include "model/weights.h"

#include <initializer_list>

namespace leanlm {
namespace {

std::string ShapeString(std::initializer_list<int64_t> ne) {
  std::string s = "[";
  for (int64_t d : ne) s += (s.size() > 1 ? ", " : "") + std::to_string(d);
  return s + "]";
}

class Binder {
 public:
  Binder(const TensorMap& tensors, const std::string& source) : tensors_(tensors), source_(source) {}

  // Binds `name` into *out after checking its shape (ggml order) and type.
  // A missing tensor is an error when required, else leaves *out invalid.
  Status Bind(const std::string& name, std::initializer_list<int64_t> ne, bool required, TensorView* out) const {
    const auto it = tensors_.find(name);
    if (it == tensors_.end()) {
      if (!required) return Status::Ok();
      return Status::Error(source_ + ": missing tensor '" + name + "' (expected shape " + ShapeString(ne) + ")");
    }
    const TensorView& t = it->second;
    std::array<int64_t, 4> want{1, 1, 1, 1};
    size_t i = 0;
    for (int64_t d : ne) want[i++] = d;
    if (t.ne != want || t.n_dims < 1 || t.n_dims > 4) {
      return Status::Error(source_ + ": tensor '" + name + "' has shape " + t.shape_string() + ", expected " +
                           ShapeString(ne));
    }
    const TypeTraits* traits = FindTypeTraits(t.type);
    if (traits == nullptr || traits->to_float == nullptr) {
      return Status::Error(source_ + ": tensor '" + name + "' has type " + TypeName(t.type) +
                           ", which cannot be used as a weight");
    }
    if (!RowBytes(t.type, t.ne[0]).ok()) {
      return Status::Error(source_ + ": tensor '" + name + "' of type " + traits->name + " has rows of " +
                           std::to_string(t.ne[0]) + " elements, not a multiple of the block size " +
                           std::to_string(traits->block_size));
    }
    if (t.data == nullptr) return Status::Error(source_ + ": tensor '" + name + "' has no data");
    *out = t;
    return Status::Ok();
  }

 private:
  const TensorMap& tensors_;
  const std::string& source_;
};

}  // namespace

Result<ModelWeights> BindWeights(const ModelConfig& config, const TensorMap& tensors, const std::string& source) {
  LEANLM_RETURN_IF_ERROR(config.Validate(source));
  const Binder b(tensors, source);
  const int64_t d = config.n_embd, q = config.q_dim(), kv = config.kv_dim(), ff = config.n_ff;

  ModelWeights w;
  LEANLM_RETURN_IF_ERROR(b.Bind("token_embd.weight", {d, config.n_vocab}, true, &w.token_embd));
  LEANLM_RETURN_IF_ERROR(b.Bind("output_norm.weight", {d}, true, &w.output_norm));
  LEANLM_RETURN_IF_ERROR(b.Bind("output.weight", {d, config.n_vocab}, false, &w.output));
  if (!w.output.valid()) w.output = w.token_embd;
  LEANLM_RETURN_IF_ERROR(b.Bind("rope_freqs.weight", {config.rotary_dim() / 2}, false, &w.rope_freqs));

  w.layers.resize(static_cast<size_t>(config.n_layer));
  for (int64_t l = 0; l < config.n_layer; ++l) {
    LayerWeights& L = w.layers[static_cast<size_t>(l)];
    const std::string p = "blk." + std::to_string(l) + ".";
    LEANLM_RETURN_IF_ERROR(b.Bind(p + "attn_norm.weight", {d}, true, &L.attn_norm));
    LEANLM_RETURN_IF_ERROR(b.Bind(p + "attn_q.weight", {d, q}, true, &L.wq));
    LEANLM_RETURN_IF_ERROR(b.Bind(p + "attn_k.weight", {d, kv}, true, &L.wk));
    LEANLM_RETURN_IF_ERROR(b.Bind(p + "attn_v.weight", {d, kv}, true, &L.wv));
    LEANLM_RETURN_IF_ERROR(b.Bind(p + "attn_output.weight", {q, d}, true, &L.wo));
    LEANLM_RETURN_IF_ERROR(b.Bind(p + "attn_q.bias", {q}, config.qkv_bias, &L.bq));
    LEANLM_RETURN_IF_ERROR(b.Bind(p + "attn_k.bias", {kv}, config.qkv_bias, &L.bk));
    LEANLM_RETURN_IF_ERROR(b.Bind(p + "attn_v.bias", {kv}, config.qkv_bias, &L.bv));
    LEANLM_RETURN_IF_ERROR(b.Bind(p + "ffn_norm.weight", {d}, true, &L.ffn_norm));
    LEANLM_RETURN_IF_ERROR(b.Bind(p + "ffn_gate.weight", {d, ff}, true, &L.ffn_gate));
    LEANLM_RETURN_IF_ERROR(b.Bind(p + "ffn_up.weight", {d, ff}, true, &L.ffn_up));
    LEANLM_RETURN_IF_ERROR(b.Bind(p + "ffn_down.weight", {ff, d}, true, &L.ffn_down));
  }
  return w;
}

}  // namespace leanlm
