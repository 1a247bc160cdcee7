// Writing a ModelSource's config and weights as an HF directory: config.json
// and model.safetensors with HF names, PyTorch shapes and HF's RoPE layout.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "io/hf_dir.h"
#include "io/hf_names.h"
#include "io/rope_permute.h"
#include "io/safetensors.h"

namespace leanlm {
namespace {

bool EndsWith(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// Owns the bytes of tensors the export rewrites (permuted Q/K, Gemma norms,
// fused Phi-3 projections); everything else is written from the source views.
class Buffers {
 public:
  uint8_t* New(size_t bytes) {
    buffers_.push_back(std::make_unique<uint8_t[]>(bytes));
    return buffers_.back().get();
  }

 private:
  std::vector<std::unique_ptr<uint8_t[]>> buffers_;
};

// Stacks 2-D tensors of one type and width: rows of parts[0], then parts[1], ...
Result<TensorView> ConcatRows(const std::vector<TensorView>& parts, const std::string& what, Buffers& buffers) {
  TensorView out = parts[0];
  out.ne[1] = 0;
  for (const TensorView& p : parts) {
    if (p.type != out.type || p.n_dims != 2 || p.ne[0] != out.ne[0]) {
      return Status::Error(what + ": the parts to fuse differ in type or width");
    }
    out.ne[1] += p.ne[1];
  }
  uint8_t* dst = buffers.New(out.bytes());
  for (const TensorView& p : parts) {
    std::memcpy(dst, p.data, p.bytes());
    dst += p.bytes();
  }
  out.data = dst - out.bytes();
  return out;
}

// HF's Phi-3 has only fused projections: qkv_proj (q, k, v rows) and
// gate_up_proj (gate rows, then up rows). Fuse layers that hold them apart.
Status FusePhi3(const ModelConfig& c, TensorMap& tensors, Buffers& buffers) {
  for (int64_t layer = 0; layer < c.n_layer; ++layer) {
    const std::string blk = "blk." + std::to_string(layer) + ".";
    const std::string q = blk + "attn_q.weight", k = blk + "attn_k.weight", v = blk + "attn_v.weight";
    const int present = static_cast<int>(tensors.count(q) + tensors.count(k) + tensors.count(v));
    if (present == 3 && !tensors.count(blk + "attn_qkv.weight")) {
      LEANLM_ASSIGN_OR_RETURN(tensors[blk + "attn_qkv.weight"],
                              ConcatRows({tensors[q], tensors[k], tensors[v]}, blk + "attn_qkv.weight", buffers));
      tensors.erase(q);
      tensors.erase(k);
      tensors.erase(v);
    } else if (present != 0) {
      return Status::Error(blk + "attn_q/k/v: Phi-3 export needs all three or the fused attn_qkv");
    }
    const std::string gate = blk + "ffn_gate.weight", up = blk + "ffn_up.weight";
    if (tensors.count(gate)) {
      if (!tensors.count(up)) return Status::Error(gate + ": Phi-3 export needs ffn_up beside it");
      LEANLM_ASSIGN_OR_RETURN(tensors[up], ConcatRows({tensors[gate], tensors[up]}, up, buffers));
      tensors.erase(gate);
    }
  }
  return Status::Ok();
}

const char* TorchDtypeName(DType t) {
  switch (t) {
    case DType::kF32: return "float32";
    case DType::kF16: return "float16";
    case DType::kBF16: return "bfloat16";
    default: return "";
  }
}

}  // namespace

Status SaveHfModelFiles(const ModelSource& source, const std::string& dir) {
  const ModelConfig& c = source.config;
  TensorMap tensors = source.tensors;  // views only
  Buffers buffers;
  if (c.arch == "phi3") LEANLM_RETURN_IF_ERROR(FusePhi3(c, tensors, buffers));
  if (c.tied_embeddings) tensors.erase("output.weight");  // HF ties lm_head to embed_tokens
  const bool permute = !c.rope_neox;
  if (permute && c.rotary_dim() != c.head_dim) {
    return Status::Error(dir + ": cannot convert partial rotary embeddings in the interleaved layout to HF's");
  }

  std::map<std::string, TensorView> out;
  for (const auto& [name, view] : tensors) {
    const std::string hf = GgufToHfName(name, c.arch);
    if (hf.empty()) return Status::Error(dir + ": tensor " + name + " has no Hugging Face name for arch " + c.arch);
    if (*TorchDtypeName(view.type) == '\0') {
      return Status::Error(dir + ": tensor " + name + " is " + TypeName(view.type) +
                           "; an HF export holds F32, F16 or BF16 weights (dequantize first)");
    }
    TensorView v = view;
    const bool is_q = EndsWith(name, ".attn_q.weight") || EndsWith(name, ".attn_q.bias");
    const bool is_k = EndsWith(name, ".attn_k.weight") || EndsWith(name, ".attn_k.bias");
    if (permute && EndsWith(name, ".attn_qkv.weight")) {
      return Status::Error(dir + ": tensor " + name + ": fused Q/K/V in the interleaved RoPE layout is not supported");
    }
    if (permute && (is_q || is_k)) {
      uint8_t* dst = buffers.New(view.bytes());
      const Status s = PermuteRopeRows(view, is_q ? c.n_head : c.n_head_kv, RopeLayout::kHalves, dst);
      if (!s.ok()) return s.WithContext(dir + ": tensor " + name);
      v.data = dst;
    }
    if (c.arch == "gemma" && EndsWith(name, "_norm.weight")) {
      // Inverse of the load side: HF's Gemma stores w where the model uses 1 + w.
      if (v.n_dims != 1) return Status::Error(dir + ": Gemma norm " + name + " must be 1-D");
      auto* values = reinterpret_cast<float*>(buffers.New(v.ne[0] * sizeof(float)));
      GetTypeTraits(v.type).to_float(v.data, values, v.ne[0]);
      for (int64_t i = 0; i < v.ne[0]; ++i) values[i] -= 1.0f;
      v.data = values;
      v.type = DType::kF32;
    }
    out[hf] = v;
  }

  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::Error("cannot create directory " + dir + ": " + std::strerror(errno));
  }
  HfConfigExtras extras;
  const auto embd = source.tensors.find("token_embd.weight");
  if (embd != source.tensors.end()) extras.torch_dtype = TorchDtypeName(embd->second.type);
  if (source.vocab) {
    extras.bos_token_id = source.vocab->bos_id;
    extras.eos_token_id = source.vocab->eos_id;
  }
  ModelConfig hf_config = c;
  hf_config.rope_neox = true;  // the weights written are in HF's layout
  const Result<std::string> config_text = ConfigToHfJson(hf_config, extras);
  if (!config_text.ok()) return config_text.status().WithContext(dir);
  LEANLM_ASSIGN_OR_RETURN(std::unique_ptr<AtomicFileWriter> writer, AtomicFileWriter::Create(dir + "/config.json"));
  LEANLM_RETURN_IF_ERROR(writer->Write(config_text->data(), config_text->size()));
  LEANLM_RETURN_IF_ERROR(writer->Commit());
  return WriteSafetensors(dir + "/model.safetensors", out, {{"format", "pt"}});
}

}  // namespace leanlm
