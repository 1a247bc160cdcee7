#include "peft/adapter_set.h"

#include <algorithm>
#include <cmath>

#include "ops/matmul.h"

namespace leanlm {
namespace {

const TensorView& WeightOf(const LayerWeights& L, LinearSlot slot) {
  switch (slot) {
    case LinearSlot::kQ: return L.wq;
    case LinearSlot::kK: return L.wk;
    case LinearSlot::kV: return L.wv;
    case LinearSlot::kO: return L.wo;
    case LinearSlot::kGate: return L.ffn_gate;
    case LinearSlot::kUp: return L.ffn_up;
    case LinearSlot::kDown: return L.ffn_down;
  }
  return L.wq;
}

TensorView F32Matrix(const std::vector<float>& v, int64_t ne0, int64_t ne1) {
  TensorView t;
  t.data = v.data();
  t.type = DType::kF32;
  t.n_dims = 2;
  t.ne = {ne0, ne1, 1, 1};
  return t;
}

// f[o] = m[o] / ‖W[o] + s · Σ_k B[o,k] A[k]‖ over the inputs, in double.
Result<std::vector<float>> DoraFactors(const TensorView& w, const LoraTarget& t, int64_t r, float s,
                                       const std::string& source) {
  const TypeTraits* traits = FindTypeTraits(w.type);
  if (traits == nullptr || traits->to_float == nullptr) {
    return Status::Error(source + ": DoRA needs " + t.weight + " as F32, but its type does not convert");
  }
  std::vector<float> row(static_cast<size_t>(t.in)), f(static_cast<size_t>(t.out));
  for (int64_t o = 0; o < t.out; ++o) {
    traits->to_float(w.row(o), row.data(), t.in);
    double norm2 = 0;
    for (int64_t i = 0; i < t.in; ++i) {
      double v = row[static_cast<size_t>(i)];
      double ba = 0;
      for (int64_t k = 0; k < r; ++k) ba += double{t.b[static_cast<size_t>(o * r + k)]} * t.a[static_cast<size_t>(k * t.in + i)];
      v += double{s} * ba;
      norm2 += v * v;
    }
    const double norm = std::sqrt(norm2);
    if (!(norm > 0)) return Status::Error(source + ": DoRA: row " + std::to_string(o) + " of " + t.weight + " is zero");
    f[static_cast<size_t>(o)] = static_cast<float>(t.magnitude[static_cast<size_t>(o)] / norm);
  }
  return f;
}

}  // namespace

Result<std::unique_ptr<AdapterSet>> AdapterSet::Create(std::vector<std::shared_ptr<const Adapter>> adapters,
                                                       const ModelConfig& c, const ModelWeights& weights) {
  std::unique_ptr<AdapterSet> set(new AdapterSet());
  set->updates_.resize(static_cast<size_t>(c.n_layer * kLinearSlots));
  set->kv_dim_ = c.kv_dim();
  set->prefix_k_.resize(static_cast<size_t>(c.n_layer));
  set->prefix_v_.resize(static_cast<size_t>(c.n_layer));
  for (const auto& adapter : adapters) {
    const std::string source = adapter->name.empty() ? "adapter" : adapter->name;
    LEANLM_RETURN_IF_ERROR(ValidateAdapter(*adapter, c, source));
    if (const LoraAdapter* lora = adapter->lora()) {
      const float s = lora->scale() * adapter->scale;
      for (const LoraTarget& t : lora->targets) {
        const AdaptedLinear lin = FindAdaptedLinear(c, t.weight).value();
        Update u;
        u.a = F32Matrix(t.a, t.in, lora->r);
        u.b = F32Matrix(t.b, lora->r, t.out);
        u.scale = s;
        if (!t.magnitude.empty()) {
          const TensorView& w = WeightOf(weights.layers[static_cast<size_t>(lin.layer)], lin.slot);
          LEANLM_ASSIGN_OR_RETURN(u.dora, DoraFactors(w, t, lora->r, s, source));
        }
        set->updates_[static_cast<size_t>(lin.layer * kLinearSlots + static_cast<int>(lin.slot))].push_back(
            std::move(u));
      }
    } else if (const PromptAdapter* p = adapter->prompt()) {
      set->prompt_.insert(set->prompt_.end(), p->embeddings.begin(), p->embeddings.end());
      set->n_prompt_ += p->n_virtual;
    } else if (const PrefixAdapter* p = adapter->prefix()) {
      for (size_t l = 0; l < set->prefix_k_.size(); ++l) {
        set->prefix_k_[l].insert(set->prefix_k_[l].end(), p->keys[l].begin(), p->keys[l].end());
        set->prefix_v_[l].insert(set->prefix_v_[l].end(), p->values[l].begin(), p->values[l].end());
      }
      set->n_prefix_ += p->n_virtual;
    }
  }
  set->adapters_ = std::move(adapters);
  return set;
}

void AdapterSet::Apply(int64_t layer, LinearSlot slot, const float* x, int64_t n, float* y, ThreadPool& pool) {
  for (const Update& u : updates_[static_cast<size_t>(layer * kLinearSlots + static_cast<int>(slot))]) {
    const int64_t r = u.a.ne[1], out = u.b.ne[1];
    if (static_cast<int64_t>(ax_.size()) < n * r) ax_.resize(static_cast<size_t>(n * r));
    if (static_cast<int64_t>(bx_.size()) < n * out) bx_.resize(static_cast<size_t>(n * out));
    MatMul(u.a, x, n, ax_.data(), pool);            // (n, r)
    MatMul(u.b, ax_.data(), n, bx_.data(), pool);   // (n, out)
    for (int64_t t = 0; t < n; ++t) {
      float* yt = y + t * out;
      const float* bt = bx_.data() + t * out;
      if (u.dora.empty()) {
        for (int64_t o = 0; o < out; ++o) yt[o] += u.scale * bt[o];
      } else {
        for (int64_t o = 0; o < out; ++o) yt[o] = u.dora[static_cast<size_t>(o)] * (yt[o] + u.scale * bt[o]);
      }
    }
  }
}

void AdapterSet::StorePrefix(KvCache& cache) const {
  if (n_prefix_ == 0) return;
  for (size_t l = 0; l < prefix_k_.size(); ++l) {
    cache.Store(static_cast<int64_t>(l), 0, n_prefix_, prefix_k_[l].data(), prefix_v_[l].data());
  }
}

}  // namespace leanlm
