#include "model/llama.h"

#include <algorithm>
#include <initializer_list>
#include <string>

#include "model/packed_linears.h"
#include "ops/activation.h"
#include "ops/add.h"
#include "ops/attention.h"
#include "ops/embedding.h"
#include "ops/matmul.h"
#include "ops/packed_weights.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"
#include "peft/adapter_set.h"

namespace leanlm {

// Activations of one batch, sized for the largest batch seen so far.
struct LlamaModel::Scratch {
  std::vector<float> x;     // (n, n_embd) residual stream
  std::vector<float> xb;    // (n, n_embd) normalized input of a sublayer
  std::vector<float> proj;  // (n, n_embd) output of attn_output / ffn_down
  std::vector<float> q;     // (n, q_dim) queries
  std::vector<float> k;     // (n, kv_dim) keys of the new positions
  std::vector<float> v;     // (n, kv_dim) values of the new positions
  std::vector<float> att;   // (n, q_dim) attention output
  std::vector<float> gate;  // (n, n_ff)
  std::vector<float> up;    // (n, n_ff)
  std::vector<float> rope;  // (n, 2, rotary_dim / 2) cos, sin

  // Sizes for a batch of n tokens; growth is geometric.
  void Reserve(const ModelConfig& c, int64_t n) {
    Grow(x, n * c.n_embd);
    Grow(xb, n * c.n_embd);
    Grow(proj, n * c.n_embd);
    Grow(q, n * c.q_dim());
    Grow(k, n * c.kv_dim());
    Grow(v, n * c.kv_dim());
    Grow(att, n * c.q_dim());
    Grow(gate, n * c.n_ff);
    Grow(up, n * c.n_ff);
    Grow(rope, n * c.rotary_dim());
  }
  static void Grow(std::vector<float>& v, int64_t size) {
    if (static_cast<int64_t>(v.size()) < size) v.resize(std::max(static_cast<size_t>(size), 2 * v.size()));
  }
};

LlamaModel::LlamaModel(ModelConfig config, ModelWeights weights)
    : config_(std::move(config)), weights_(std::move(weights)), scratch_(std::make_unique<Scratch>()) {
  LEANLM_CHECK(config_.Validate("LlamaModel").ok());
  LEANLM_CHECK(static_cast<int64_t>(weights_.layers.size()) == config_.n_layer);
  // The ops take F32 vectors; norms and biases are small, so other types
  // (BF16 checkpoints) are converted once here.
  auto to_f32 = [this](TensorView& v) {
    if (!v.valid() || v.type == DType::kF32) return;
    std::vector<float>& f = f32_vectors_.emplace_back(static_cast<size_t>(v.elements()));
    GetTypeTraits(v.type).to_float(v.data, f.data(), v.elements());
    v.data = f.data();  // moving f later (vector growth) keeps its buffer
    v.type = DType::kF32;
  };
  to_f32(weights_.output_norm);
  to_f32(weights_.rope_freqs);
  for (LayerWeights& L : weights_.layers) {
    for (TensorView* v : {&L.attn_norm, &L.ffn_norm, &L.bq, &L.bk, &L.bv}) to_f32(*v);
  }
  rope_inv_freq_ = RopeInvFreq(config_, weights_.rope_freqs.valid() ? weights_.rope_freqs.f32() : nullptr);
}

LlamaModel::~LlamaModel() = default;

Status LlamaModel::Forward(const int32_t* tokens, int64_t n, int64_t pos, KvCache& cache, float* logits,
                           bool all_logits, ThreadPool& pool) {
  const ModelConfig& c = config_;
  if (n <= 0) return Status::Error("Forward: no tokens (n = " + std::to_string(n) + ")");
  if (cache.n_layer() != c.n_layer || cache.n_head_kv() != c.n_head_kv || cache.head_dim() != c.head_dim) {
    return Status::Error("Forward: the KV cache was made for another model (" + std::to_string(cache.n_layer()) +
                         " layers of " + std::to_string(cache.n_head_kv()) + " x " + std::to_string(cache.head_dim()) +
                         ", expected " + std::to_string(c.n_layer) + " of " + std::to_string(c.n_head_kv) + " x " +
                         std::to_string(c.head_dim) + ")");
  }
  const int64_t nv = n_virtual();
  if (pos < 0 || pos > cache.n_ctx() - n - nv) {
    return Status::Error("Forward: positions " + std::to_string(pos) + ".." + std::to_string(pos + n - 1) +
                         (nv > 0 ? " after " + std::to_string(nv) + " virtual tokens" : std::string()) +
                         " do not fit the context of " + std::to_string(cache.n_ctx()) + " tokens");
  }
  for (int64_t i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= c.n_vocab) {
      return Status::Error("Forward: token id " + std::to_string(tokens[i]) + " at index " + std::to_string(i) +
                           " is outside the vocabulary [0, " + std::to_string(c.n_vocab) + ")");
    }
  }
  if (nv > 0 && pos == 0) {  // the adapters' virtual tokens start every sequence
    adapters_->StorePrefix(cache);
    const int64_t np = adapters_->n_prompt();
    for (int64_t done = 0; done < np; done += kMaxBatch) {
      ForwardBatch(nullptr, adapters_->prompt_embeddings() + done * c.n_embd, std::min(kMaxBatch, np - done),
                   adapters_->n_prefix() + done, cache, nullptr, false, pool);
    }
  }
  for (int64_t done = 0; done < n; done += kMaxBatch) {
    const int64_t m = std::min(kMaxBatch, n - done);
    float* out = all_logits ? logits + done * c.n_vocab : (done + m == n ? logits : nullptr);
    ForwardBatch(tokens + done, nullptr, m, nv + pos + done, cache, out, all_logits, pool);
  }
  return Status::Ok();
}

Status LlamaModel::SetAdapters(std::vector<std::shared_ptr<const Adapter>> adapters) {
  if (adapters.empty()) {
    adapters_.reset();
    return Status::Ok();
  }
  LEANLM_ASSIGN_OR_RETURN(adapters_, AdapterSet::Create(std::move(adapters), config_, weights_));
  return Status::Ok();
}

int64_t LlamaModel::n_virtual() const { return adapters_ ? adapters_->n_virtual() : 0; }

Result<size_t> LlamaModel::PackWeights(ThreadPool& pool, const PackedLinears::SourceDone& packed_one) {
  LEANLM_ASSIGN_OR_RETURN(packed_, PackedLinears::Pack(weights_, pool, packed_one));
  return packed_bytes();
}

size_t LlamaModel::packed_bytes() const { return packed_ ? packed_->bytes() : 0; }

namespace {

// y = W·in (n rows), with W's packed copy where there is one.
void Linear(const TensorView& w, const PackedWeight* packed, const float* in, int64_t n, float* y,
            ThreadPool& pool) {
  if (packed != nullptr && packed->valid()) {
    PackedMatMul(*packed, in, n, y, pool);
  } else {
    MatMul(w, in, n, y, pool);
  }
}

}  // namespace

void LlamaModel::ForwardBatch(const int32_t* tokens, const float* embeddings, int64_t n, int64_t pos, KvCache& cache,
                              float* logits, bool all_rows, ThreadPool& pool) {
  const ModelConfig& c = config_;
  const ModelWeights& w = weights_;
  Scratch& s = *scratch_;
  s.Reserve(c, n);
  const int64_t dim = c.n_embd, ff = c.n_ff;
  const AttentionDims dims{c.n_head, c.n_head_kv, c.head_dim};
  float* x = s.x.data();
  float* xb = s.xb.data();
  float* proj = s.proj.data();
  float* q = s.q.data();
  float* k = s.k.data();
  float* v = s.v.data();
  float* gate = s.gate.data();

  if (embeddings != nullptr) {  // scaled as token embeddings are (HF scales inputs_embeds too)
    for (int64_t i = 0; i < n * dim; ++i) x[i] = embeddings[i] * c.embed_scale;
  } else {
    EmbeddingForward(x, w.token_embd, tokens, n, c.embed_scale);
  }
  RopeCosSin(s.rope.data(), rope_inv_freq_, pos, n);

  for (int64_t l = 0; l < c.n_layer; ++l) {
    const LayerWeights& L = w.layers[static_cast<size_t>(l)];
    // y = W·in for n rows, plus the adapters' updates of this linear
    auto linear = [&](LinearSlot slot, const TensorView& W, const float* in, float* y) {
      Linear(W, packed_ ? &packed_->layer(l, slot) : nullptr, in, n, y, pool);
      if (adapters_ != nullptr) adapters_->Apply(l, slot, in, n, y, pool);
    };
    // Linears that read the same input: one pass over all of them when all
    // are packed (the input is quantized once).
    struct Out {
      LinearSlot slot;
      const TensorView* w;
      float* y;
    };
    auto linears = [&](std::initializer_list<Out> outs, const float* in) {
      constexpr size_t kMaxOuts = 3;
      LEANLM_CHECK(outs.size() <= kMaxOuts);
      const PackedWeight* pw[kMaxOuts] = {};
      float* ys[kMaxOuts] = {};
      int count = 0;
      for (const Out& o : outs) {
        const PackedWeight* p = packed_ ? &packed_->layer(l, o.slot) : nullptr;
        if (p == nullptr || !p->valid()) break;
        pw[count] = p;
        ys[count++] = o.y;
      }
      if (count < static_cast<int>(outs.size())) {
        for (const Out& o : outs) linear(o.slot, *o.w, in, o.y);
        return;
      }
      PackedMatMulMany(pw, ys, count, in, n, pool);
      if (adapters_ != nullptr) {
        for (const Out& o : outs) adapters_->Apply(l, o.slot, in, n, o.y, pool);
      }
    };

    // Attention: x += wo · attention(rope(wq·h), rope(wk·h), wv·h), h = norm(x),
    // over the cached keys and values of every position so far.
    RmsNormForward(xb, nullptr, x, L.attn_norm.f32(), n, dim, c.norm_eps, pool);
    linears({{LinearSlot::kQ, &L.wq, q}, {LinearSlot::kK, &L.wk, k}, {LinearSlot::kV, &L.wv, v}}, xb);
    if (L.bq.valid()) BiasForward(q, L.bq.f32(), n, c.q_dim());
    if (L.bk.valid()) BiasForward(k, L.bk.f32(), n, c.kv_dim());
    if (L.bv.valid()) BiasForward(v, L.bv.f32(), n, c.kv_dim());
    RopeForward(q, s.rope.data(), n, c.n_head, c.head_dim, c.rotary_dim(), c.rope_neox, pool);
    RopeForward(k, s.rope.data(), n, c.n_head_kv, c.head_dim, c.rotary_dim(), c.rope_neox, pool);
    cache.Store(l, pos, n, k, v);
    AttentionForward(s.att.data(), nullptr, q, cache.View(l), n, pos, dims, pool);
    linear(LinearSlot::kO, L.wo, s.att.data(), proj);
    AddForward(x, proj, n * dim);

    // Feed-forward: x += down · (act(gate·h) * up·h), h = norm(x)
    RmsNormForward(xb, nullptr, x, L.ffn_norm.f32(), n, dim, c.norm_eps, pool);
    linears({{LinearSlot::kGate, &L.ffn_gate, gate}, {LinearSlot::kUp, &L.ffn_up, s.up.data()}}, xb);
    GatedActivationForward(gate, gate, s.up.data(), n * ff, c.activation, pool);
    linear(LinearSlot::kDown, L.ffn_down, gate, proj);
    AddForward(x, proj, n * dim);
  }

  if (logits == nullptr) return;
  const int64_t first = all_rows ? 0 : n - 1;
  RmsNormForward(xb, nullptr, x + first * dim, w.output_norm.f32(), n - first, dim, c.norm_eps, pool);
  Linear(w.output, packed_ ? &packed_->output() : nullptr, xb, n - first, logits, pool);
}

}  // namespace leanlm
