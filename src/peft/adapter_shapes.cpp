#include "peft/adapter_shapes.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <set>
#include <vector>

#include "io/rope_permute.h"

namespace leanlm {
namespace {

constexpr const char* kSlotNames[kLinearSlots] = {"attn_q",    "attn_k",   "attn_v", "attn_output",
                                                  "ffn_gate", "ffn_up", "ffn_down"};

std::string Str(int64_t v) { return std::to_string(v); }

// Reorders `rows` rows of `width` floats from one RoPE layout to the other.
Status PermuteRows(std::vector<float>& v, int64_t width, int64_t rows, int64_t n_head, bool to_neox) {
  TensorView src;
  src.data = v.data();
  src.type = DType::kF32;
  src.n_dims = width == 1 ? 1 : 2;
  src.ne = width == 1 ? std::array<int64_t, 4>{rows, 1, 1, 1} : std::array<int64_t, 4>{width, rows, 1, 1};
  std::vector<float> out(v.size());
  LEANLM_RETURN_IF_ERROR(
      PermuteRopeRows(src, n_head, to_neox ? RopeLayout::kHalves : RopeLayout::kInterleaved, out.data()));
  v.swap(out);
  return Status::Ok();
}

}  // namespace

std::string LinearWeightName(int64_t layer, LinearSlot slot) {
  return "blk." + Str(layer) + "." + kSlotNames[static_cast<int>(slot)] + ".weight";
}

Result<AdaptedLinear> FindAdaptedLinear(const ModelConfig& c, const std::string& name) {
  auto unsupported = [&](const std::string& why) {
    return Status::Error("cannot adapt tensor '" + name + "': " + why);
  };
  if (name.rfind("blk.", 0) != 0) {
    return unsupported("LoRA is supported on the per-layer linear weights (attn_q, attn_k, attn_v, attn_output, "
                       "ffn_gate, ffn_up, ffn_down) only");
  }
  size_t i = 4;
  int64_t layer = 0;
  const size_t digits = i;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9' && i - digits < 7) layer = layer * 10 + (name[i++] - '0');
  if (i == digits || i >= name.size() || name[i] != '.') return unsupported("expected blk.N.<name>.weight");
  const std::string rest = name.substr(i + 1);
  AdaptedLinear a;
  a.layer = layer;
  bool found = false;
  for (int s = 0; s < kLinearSlots; ++s) {
    if (rest == std::string(kSlotNames[s]) + ".weight") {
      a.slot = static_cast<LinearSlot>(s);
      found = true;
    }
  }
  if (!found) {
    return unsupported("LoRA is supported on attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up and ffn_down "
                       "weights only");
  }
  if (layer >= c.n_layer) return unsupported("the model has " + Str(c.n_layer) + " layers");
  switch (a.slot) {
    case LinearSlot::kQ: a.in = c.n_embd, a.out = c.q_dim(), a.rope_heads = c.n_head; break;
    case LinearSlot::kK: a.in = c.n_embd, a.out = c.kv_dim(), a.rope_heads = c.n_head_kv; break;
    case LinearSlot::kV: a.in = c.n_embd, a.out = c.kv_dim(); break;
    case LinearSlot::kO: a.in = c.q_dim(), a.out = c.n_embd; break;
    case LinearSlot::kGate:
    case LinearSlot::kUp: a.in = c.n_embd, a.out = c.n_ff; break;
    case LinearSlot::kDown: a.in = c.n_ff, a.out = c.n_embd; break;
  }
  return a;
}

Status ValidateAdapter(const Adapter& adapter, const ModelConfig& c, const std::string& source) {
  auto fail = [&](const std::string& msg) { return Status::Error(source + ": " + msg); };
  if (!(adapter.scale == adapter.scale) || std::isinf(adapter.scale)) return fail("the scale is not finite");
  if (const LoraAdapter* lora = adapter.lora()) {
    if (lora->r <= 0) return fail("LoRA rank r must be positive, got " + Str(lora->r));
    if (!std::isfinite(lora->alpha)) return fail("lora_alpha is not finite");
    if (lora->targets.empty()) return fail("the LoRA adapter has no target weights");
    std::set<std::string> seen;
    const bool dora = lora->dora();
    for (const LoraTarget& t : lora->targets) {
      auto found = FindAdaptedLinear(c, t.weight);
      if (!found.ok()) return found.status().WithContext(source);
      const AdaptedLinear& lin = *found;
      if (!seen.insert(t.weight).second) return fail("LoRA target " + t.weight + " appears twice");
      if (t.in != lin.in || t.out != lin.out) {
        return fail("LoRA target " + t.weight + " has shape in " + Str(t.in) + " x out " + Str(t.out) +
                    " but the model's weight is in " + Str(lin.in) + " x out " + Str(lin.out) +
                    " (an adapter for another base model?)");
      }
      if (static_cast<int64_t>(t.a.size()) != lora->r * t.in) {
        return fail("LoRA A of " + t.weight + " holds " + Str(static_cast<int64_t>(t.a.size())) +
                    " values, expected r x in = " + Str(lora->r) + " x " + Str(t.in));
      }
      if (static_cast<int64_t>(t.b.size()) != lora->r * t.out) {
        return fail("LoRA B of " + t.weight + " holds " + Str(static_cast<int64_t>(t.b.size())) +
                    " values, expected out x r = " + Str(t.out) + " x " + Str(lora->r));
      }
      if (t.magnitude.empty() == dora) return fail("DoRA magnitudes must be given for every target or none");
      if (dora && static_cast<int64_t>(t.magnitude.size()) != t.out) {
        return fail("DoRA magnitude of " + t.weight + " holds " + Str(static_cast<int64_t>(t.magnitude.size())) +
                    " values, expected " + Str(t.out));
      }
    }
    return Status::Ok();
  }
  if (adapter.scale != 1.0f) return fail("a scale applies to LoRA adapters only (prompt/prefix take none)");
  if (const PromptAdapter* p = adapter.prompt()) {
    if (p->n_virtual <= 0) return fail("prompt tuning needs at least one virtual token");
    if (p->n_embd != c.n_embd) {
      return fail("prompt embeddings are " + Str(p->n_embd) + " wide but the model's embeddings " + Str(c.n_embd));
    }
    if (static_cast<int64_t>(p->embeddings.size()) != p->n_virtual * p->n_embd) {
      return fail("prompt embeddings hold " + Str(static_cast<int64_t>(p->embeddings.size())) + " values, expected " +
                  Str(p->n_virtual) + " x " + Str(p->n_embd));
    }
    return Status::Ok();
  }
  const PrefixAdapter* p = adapter.prefix();
  if (p->n_virtual <= 0) return fail("prefix tuning needs at least one virtual token");
  if (p->n_layer != c.n_layer || p->kv_dim != c.kv_dim()) {
    return fail("the prefix is for " + Str(p->n_layer) + " layers of key/value width " + Str(p->kv_dim) +
                " but the model has " + Str(c.n_layer) + " layers of " + Str(c.kv_dim()));
  }
  if (static_cast<int64_t>(p->keys.size()) != p->n_layer || static_cast<int64_t>(p->values.size()) != p->n_layer) {
    return fail("the prefix holds keys/values for " + Str(static_cast<int64_t>(p->keys.size())) + "/" +
                Str(static_cast<int64_t>(p->values.size())) + " layers, expected " + Str(p->n_layer));
  }
  for (int64_t l = 0; l < p->n_layer; ++l) {
    const size_t want = static_cast<size_t>(p->n_virtual * p->kv_dim);
    if (p->keys[static_cast<size_t>(l)].size() != want || p->values[static_cast<size_t>(l)].size() != want) {
      return fail("prefix keys/values of layer " + Str(l) + " do not hold n_virtual x kv_dim = " +
                  Str(p->n_virtual) + " x " + Str(p->kv_dim) + " values");
    }
  }
  return Status::Ok();
}

Status ConvertAdapterLayout(Adapter& adapter, const ModelConfig& c, bool from_neox, bool to_neox) {
  if (from_neox == to_neox) return Status::Ok();
  if (c.rotary_dim() != c.head_dim) {
    return Status::Error("cannot change the RoPE layout of a partially rotated head (rotary dim " +
                         Str(c.rotary_dim()) + " of " + Str(c.head_dim) + ")");
  }
  if (LoraAdapter* lora = adapter.lora()) {
    for (LoraTarget& t : lora->targets) {
      LEANLM_ASSIGN_OR_RETURN(const AdaptedLinear lin, FindAdaptedLinear(c, t.weight));
      if (lin.rope_heads == 0) continue;
      LEANLM_RETURN_IF_ERROR(PermuteRows(t.b, lora->r, t.out, lin.rope_heads, to_neox));
      if (!t.magnitude.empty()) LEANLM_RETURN_IF_ERROR(PermuteRows(t.magnitude, 1, t.out, lin.rope_heads, to_neox));
    }
  } else if (PrefixAdapter* p = adapter.prefix()) {
    for (std::vector<float>& keys : p->keys) {
      // one token's keys at a time: (n_head_kv, head_dim) as a 1-D run of heads
      for (int64_t v = 0; v < p->n_virtual; ++v) {
        std::vector<float> row(keys.begin() + v * p->kv_dim, keys.begin() + (v + 1) * p->kv_dim);
        LEANLM_RETURN_IF_ERROR(PermuteRows(row, 1, p->kv_dim, c.n_head_kv, to_neox));
        std::copy(row.begin(), row.end(), keys.begin() + v * p->kv_dim);
      }
    }
  }
  return Status::Ok();
}

}  // namespace leanlm
