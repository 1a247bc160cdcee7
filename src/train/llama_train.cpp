#include "train/llama_train.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "ops/activation.h"
#include "ops/add.h"
#include "ops/attention.h"
#include "ops/embedding.h"
#include "ops/matmul.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"
#include "train/llama_train_linear.h"
#include "train/llama_train_modules.h"

namespace leanlm {
namespace {

// Rows of the output head processed at once: the logits of a chunk take at
// most ~32 MB, and each chunk streams the whole head matrix (in the forward
// and in dx), so chunks are as large as that allows.
int64_t HeadChunk(int64_t n_vocab) { return std::clamp<int64_t>((int64_t{8} << 20) / n_vocab, 16, 1024); }

// What one layer's backward needs. N = B·S rows (S = prompt + tokens),
// K = prefix + S key/value rows per sequence.
struct LayerTape {
  std::vector<float> x;             // (N, n_embd) the layer's input
  std::vector<float> xn1, rstd1;    // (N, n_embd), (N): attention norm
  std::vector<float> q;             // (N, q_dim) after RoPE
  std::vector<float> k, v;          // (B, K, kv_dim): prefix rows, then the tokens' (keys after RoPE)
  std::vector<float> probs;         // (B, S, n_head, K); empty when recomputed per sequence
  std::vector<float> att;           // (N, q_dim) attention output, wo's input
  std::vector<float> xmid;          // (N, n_embd) residual after attention
  std::vector<float> xn2, rstd2;    // FFN norm
  std::vector<float> gate, up;      // (N, n_ff)
  std::vector<float> hidden;        // (N, n_ff) act(gate) * up, ffn_down's input
  std::array<LinearTape, kLinearSlots> lin;
  BottleneckTape adapter_attn, adapter_ffn;
};

void Resize(std::vector<float>& v, int64_t n) { v.resize(static_cast<size_t>(n)); }

}  // namespace

struct LlamaTrainGraph::Impl {
  Impl(TrainableModel& model, TrainGraphOptions options) : m(model), opt(options) {
    const TensorView& f = m.weights.rope_freqs;
    inv_freq = RopeInvFreq(m.config, f.valid() ? f.f32() : nullptr);
  }

  Status Prepare(const TrainBatch& batch, bool training, uint64_t seed);
  void Embed(const TrainBatch& batch);
  void LayerForward(int64_t l, float* x, LayerTape& t, ThreadPool& pool);
  void LayerBackward(int64_t l, float* dx, LayerTape& t, ThreadPool& pool);
  // Final norm, head and cross-entropy over x (N, n_embd); with dx, also
  // writes dL/dx and the head's gradients.
  CrossEntropyResult Head(const float* x, float* dx, double grad_denom, ThreadPool& pool);
  Result<CrossEntropyResult> Run(const TrainBatch& batch, bool training, double grad_denom, uint64_t seed,
                                 ThreadPool& pool);

  DropoutKey Dropout(int64_t l, LinearSlot slot) const {
    DropoutKey key;
    key.p = training ? m.lora_dropout : 0.0f;
    key.seed = seed * 0x100000001b3ull + static_cast<uint64_t>(l * kLinearSlots + static_cast<int64_t>(slot));
    return key;
  }
  const LoraModule* Lora(int64_t l, LinearSlot slot) const {
    return m.layers[static_cast<size_t>(l)].lora[static_cast<size_t>(slot)];
  }

  TrainableModel& m;
  TrainGraphOptions opt;
  std::vector<double> inv_freq;

  // The current batch.
  int64_t nb = 0, n_tok = 0;       // B, T
  int64_t n_virt = 0, n_pre = 0;   // prompt rows per sequence, prefix keys per layer
  int64_t seq = 0, n = 0, n_kv = 0;  // S = n_virt + T, N = B·S, K = n_pre + S
  bool training = false;
  uint64_t seed = 0;
  std::vector<int32_t> labels;     // (N): -1 on prompt rows
  std::vector<float> cs;           // (S, rotary_dim): RoPE of positions n_pre .. n_pre + S - 1
  std::vector<float> x;            // (N, n_embd) residual stream
  std::vector<float> dx;           // (N, n_embd) its gradient
  std::vector<LayerTape> tapes;    // one per layer, or one reused (recompute)
  std::vector<std::vector<float>> inputs;  // recompute: each layer's input
  PrefixTape prefix;
  std::vector<float> dprefix;      // (n_pre, n_layer * 2 * kv_dim)
  // Scratch of the layer passes.
  LinearScratch linear;
  std::vector<float> seq_probs, seq_att;  // recompute: one sequence's attention
  std::vector<float> kt, vt, proj, dq, dk, dv, dkt, dvt, datt, dxn, dhid, dup;
};

Status LlamaTrainGraph::Impl::Prepare(const TrainBatch& batch, bool train, uint64_t dropout_seed) {
  const ModelConfig& c = m.config;
  if (batch.batch <= 0 || batch.seq <= 0 || batch.tokens == nullptr || batch.labels == nullptr) {
    return Status::Error("training batch: no tokens (" + std::to_string(batch.batch) + " x " +
                         std::to_string(batch.seq) + ")");
  }
  for (int64_t i = 0; i < batch.batch * batch.seq; ++i) {
    if (batch.tokens[i] < 0 || batch.tokens[i] >= c.n_vocab || batch.labels[i] >= c.n_vocab) {
      return Status::Error("training batch: token " + std::to_string(batch.tokens[i]) + " / label " +
                           std::to_string(batch.labels[i]) + " at index " + std::to_string(i) +
                           " is outside the vocabulary [0, " + std::to_string(c.n_vocab) + ")");
    }
  }
  training = train;
  seed = dropout_seed;
  nb = batch.batch;
  n_tok = batch.seq;
  n_virt = m.n_virtual_tokens();
  n_pre = m.prefix.n_virtual;
  seq = n_virt + n_tok;
  n = nb * seq;
  n_kv = n_pre + seq;
  labels.assign(static_cast<size_t>(n), -1);
  for (int64_t b = 0; b < nb; ++b) {
    std::copy(batch.labels + b * n_tok, batch.labels + (b + 1) * n_tok, labels.begin() + b * seq + n_virt);
  }
  Resize(cs, seq * c.rotary_dim());
  RopeCosSin(cs.data(), inv_freq, n_pre, seq);
  const bool keep_all = train && !opt.recompute;
  tapes.resize(keep_all ? static_cast<size_t>(c.n_layer) : 1);
  inputs.resize(train && opt.recompute ? static_cast<size_t>(c.n_layer) : 0);
  return Status::Ok();
}

void LlamaTrainGraph::Impl::Embed(const TrainBatch& batch) {
  const ModelConfig& c = m.config;
  const int64_t d = c.n_embd;
  Resize(x, n * d);
  for (int64_t b = 0; b < nb; ++b) {
    float* row = x.data() + b * seq * d;
    for (int64_t i = 0; i < n_virt * d; ++i) row[i] = m.prompt->value[static_cast<size_t>(i)] * c.embed_scale;
    EmbeddingForward(row + n_virt * d, m.weights.token_embd, batch.tokens + b * n_tok, n_tok, c.embed_scale);
  }
}

void LlamaTrainGraph::Impl::LayerForward(int64_t l, float* xl, LayerTape& t, ThreadPool& pool) {
  const ModelConfig& c = m.config;
  const LayerWeights& L = m.weights.layers[static_cast<size_t>(l)];
  const LayerTrainables& T = m.layers[static_cast<size_t>(l)];
  const int64_t d = c.n_embd, qd = c.q_dim(), kvd = c.kv_dim(), ff = c.n_ff, hd = c.head_dim;
  const AttentionDims dims{c.n_head, c.n_head_kv, hd};
  const auto slot = [](LinearSlot s) { return static_cast<size_t>(s); };

  t.x.assign(xl, xl + n * d);
  Resize(t.xn1, n * d);
  Resize(t.rstd1, n);
  RmsNormForward(t.xn1.data(), t.rstd1.data(), xl, L.attn_norm.f32(), n, d, c.norm_eps, pool);
  Resize(t.q, n * qd);
  Resize(kt, n * kvd);
  Resize(vt, n * kvd);
  TrainLinearForward(L.wq, Lora(l, LinearSlot::kQ), Dropout(l, LinearSlot::kQ), t.xn1.data(), n, d, t.q.data(),
                     t.lin[slot(LinearSlot::kQ)], linear, pool);
  TrainLinearForward(L.wk, Lora(l, LinearSlot::kK), Dropout(l, LinearSlot::kK), t.xn1.data(), n, d, kt.data(),
                     t.lin[slot(LinearSlot::kK)], linear, pool);
  TrainLinearForward(L.wv, Lora(l, LinearSlot::kV), Dropout(l, LinearSlot::kV), t.xn1.data(), n, d, vt.data(),
                     t.lin[slot(LinearSlot::kV)], linear, pool);
  if (L.bq.valid()) BiasForward(t.q.data(), L.bq.f32(), n, qd);
  if (L.bk.valid()) BiasForward(kt.data(), L.bk.f32(), n, kvd);
  if (L.bv.valid()) BiasForward(vt.data(), L.bv.f32(), n, kvd);
  Resize(t.k, nb * n_kv * kvd);
  Resize(t.v, nb * n_kv * kvd);
  // The softmax weights are kept only when the backward comes after the whole
  // forward; with recomputation the backward redoes each sequence's attention.
  const bool keep_probs = training && !opt.recompute;
  Resize(t.probs, keep_probs ? n * c.n_head * n_kv : 0);
  Resize(t.att, n * qd);
  for (int64_t b = 0; b < nb; ++b) {
    RopeForward(t.q.data() + b * seq * qd, cs.data(), seq, c.n_head, hd, c.rotary_dim(), c.rope_neox, pool);
    RopeForward(kt.data() + b * seq * kvd, cs.data(), seq, c.n_head_kv, hd, c.rotary_dim(), c.rope_neox, pool);
    float* kb = t.k.data() + b * n_kv * kvd;
    float* vb = t.v.data() + b * n_kv * kvd;
    for (int64_t p = 0; p < n_pre; ++p) {  // prefix row p: [.. layer l key, layer l value ..]
      const float* row = prefix.kv.data() + (p * c.n_layer + l) * 2 * kvd;
      std::copy(row, row + kvd, kb + p * kvd);
      std::copy(row + kvd, row + 2 * kvd, vb + p * kvd);
    }
    std::copy(kt.begin() + b * seq * kvd, kt.begin() + (b + 1) * seq * kvd, kb + n_pre * kvd);
    std::copy(vt.begin() + b * seq * kvd, vt.begin() + (b + 1) * seq * kvd, vb + n_pre * kvd);
    const KvView kv{kb, vb, kvd, hd};
    AttentionForward(t.att.data() + b * seq * qd, keep_probs ? t.probs.data() + b * seq * c.n_head * n_kv : nullptr,
                     t.q.data() + b * seq * qd, kv, seq, n_pre, dims, pool);
  }
  Resize(proj, n * d);
  TrainLinearForward(L.wo, Lora(l, LinearSlot::kO), Dropout(l, LinearSlot::kO), t.att.data(), n, qd, proj.data(),
                     t.lin[slot(LinearSlot::kO)], linear, pool);
  if (T.adapter_attn != nullptr) BottleneckForward(*T.adapter_attn, proj.data(), n, t.adapter_attn, pool);
  AddForward(xl, proj.data(), n * d);

  t.xmid.assign(xl, xl + n * d);
  Resize(t.xn2, n * d);
  Resize(t.rstd2, n);
  RmsNormForward(t.xn2.data(), t.rstd2.data(), xl, L.ffn_norm.f32(), n, d, c.norm_eps, pool);
  Resize(t.gate, n * ff);
  Resize(t.up, n * ff);
  Resize(t.hidden, n * ff);
  TrainLinearForward(L.ffn_gate, Lora(l, LinearSlot::kGate), Dropout(l, LinearSlot::kGate), t.xn2.data(), n, d,
                     t.gate.data(), t.lin[slot(LinearSlot::kGate)], linear, pool);
  TrainLinearForward(L.ffn_up, Lora(l, LinearSlot::kUp), Dropout(l, LinearSlot::kUp), t.xn2.data(), n, d,
                     t.up.data(), t.lin[slot(LinearSlot::kUp)], linear, pool);
  GatedActivationForward(t.hidden.data(), t.gate.data(), t.up.data(), n * ff, c.activation, pool);
  TrainLinearForward(L.ffn_down, Lora(l, LinearSlot::kDown), Dropout(l, LinearSlot::kDown), t.hidden.data(), n, ff,
                     proj.data(), t.lin[slot(LinearSlot::kDown)], linear, pool);
  if (T.adapter_ffn != nullptr) BottleneckForward(*T.adapter_ffn, proj.data(), n, t.adapter_ffn, pool);
  AddForward(xl, proj.data(), n * d);
}

void LlamaTrainGraph::Impl::LayerBackward(int64_t l, float* dxl, LayerTape& t, ThreadPool& pool) {
  const ModelConfig& c = m.config;
  const LayerWeights& L = m.weights.layers[static_cast<size_t>(l)];
  const LayerTrainables& T = m.layers[static_cast<size_t>(l)];
  const int64_t d = c.n_embd, qd = c.q_dim(), kvd = c.kv_dim(), ff = c.n_ff, hd = c.head_dim;
  const AttentionDims dims{c.n_head, c.n_head_kv, hd};
  const bool detach = m.dora_detach_norm;
  auto backward = [&](const TensorView& w, LinearSlot s, const float* dy, const float* xin, float* dxin, bool acc) {
    TrainLinearBackward(w, m.GradOf(w), Lora(l, s), Dropout(l, s), detach, dy, xin, n, LinearIn(c, s),
                        t.lin[static_cast<size_t>(s)], dxin, acc, linear, pool);
  };
  auto norm_grad = [&](const TensorView& w) { return m.GradOf(w); };

  // Feed-forward: x_out = xmid + adapter(down · act(gate · h) * (up · h)), h = norm(xmid).
  proj.assign(dxl, dxl + n * d);
  if (T.adapter_ffn != nullptr) BottleneckBackward(*T.adapter_ffn, proj.data(), n, t.adapter_ffn, pool);
  Resize(dhid, n * ff);
  Resize(dup, n * ff);
  Resize(dxn, n * d);
  backward(L.ffn_down, LinearSlot::kDown, proj.data(), t.hidden.data(), dhid.data(), false);
  GatedActivationBackward(dhid.data(), dup.data(), dhid.data(), t.gate.data(), t.up.data(), n * ff, c.activation,
                          pool);
  backward(L.ffn_gate, LinearSlot::kGate, dhid.data(), t.xn2.data(), dxn.data(), false);
  backward(L.ffn_up, LinearSlot::kUp, dup.data(), t.xn2.data(), dxn.data(), true);
  RmsNormBackward(dxl, norm_grad(L.ffn_norm), dxn.data(), t.xmid.data(), L.ffn_norm.f32(), t.rstd2.data(), n, d,
                  true, pool);

  // Attention: xmid = x + adapter(wo · attention(rope(wq h), rope(wk h), wv h)), h = norm(x).
  proj.assign(dxl, dxl + n * d);
  if (T.adapter_attn != nullptr) BottleneckBackward(*T.adapter_attn, proj.data(), n, t.adapter_attn, pool);
  Resize(datt, n * qd);
  backward(L.wo, LinearSlot::kO, proj.data(), t.att.data(), datt.data(), false);
  Resize(dq, n * qd);
  Resize(dk, nb * n_kv * kvd);
  Resize(dv, nb * n_kv * kvd);
  Resize(dkt, n * kvd);
  Resize(dvt, n * kvd);
  if (opt.recompute) {
    Resize(seq_probs, seq * c.n_head * n_kv);
    Resize(seq_att, seq * qd);
  }
  for (int64_t b = 0; b < nb; ++b) {
    const KvView kv{t.k.data() + b * n_kv * kvd, t.v.data() + b * n_kv * kvd, kvd, hd};
    const KvGradView dkv{dk.data() + b * n_kv * kvd, dv.data() + b * n_kv * kvd, kvd, hd};
    float* probs = t.probs.data() + b * seq * c.n_head * n_kv;
    if (opt.recompute) {  // this sequence's softmax weights only: (S, n_head, K)
      probs = seq_probs.data();
      AttentionForward(seq_att.data(), probs, t.q.data() + b * seq * qd, kv, seq, n_pre, dims, pool);
    }
    AttentionBackward(dq.data() + b * seq * qd, dkv, probs, datt.data() + b * seq * qd, t.q.data() + b * seq * qd,
                      kv, probs, seq, n_pre, dims, pool);
    for (int64_t p = 0; p < n_pre; ++p) {
      float* row = dprefix.data() + (p * c.n_layer + l) * 2 * kvd;
      AddForward(row, dkv.dk + p * kvd, kvd);
      AddForward(row + kvd, dkv.dv + p * kvd, kvd);
    }
    std::copy(dkv.dk + n_pre * kvd, dkv.dk + n_kv * kvd, dkt.begin() + b * seq * kvd);
    std::copy(dkv.dv + n_pre * kvd, dkv.dv + n_kv * kvd, dvt.begin() + b * seq * kvd);
    RopeBackward(dq.data() + b * seq * qd, cs.data(), seq, c.n_head, hd, c.rotary_dim(), c.rope_neox, pool);
    RopeBackward(dkt.data() + b * seq * kvd, cs.data(), seq, c.n_head_kv, hd, c.rotary_dim(), c.rope_neox, pool);
  }
  if (float* g = m.GradOf(L.bq); g != nullptr && L.bq.valid()) BiasBackward(g, dq.data(), n, qd);
  if (float* g = m.GradOf(L.bk); g != nullptr && L.bk.valid()) BiasBackward(g, dkt.data(), n, kvd);
  if (float* g = m.GradOf(L.bv); g != nullptr && L.bv.valid()) BiasBackward(g, dvt.data(), n, kvd);
  backward(L.wq, LinearSlot::kQ, dq.data(), t.xn1.data(), dxn.data(), false);
  backward(L.wk, LinearSlot::kK, dkt.data(), t.xn1.data(), dxn.data(), true);
  backward(L.wv, LinearSlot::kV, dvt.data(), t.xn1.data(), dxn.data(), true);
  RmsNormBackward(dxl, norm_grad(L.attn_norm), dxn.data(), t.x.data(), L.attn_norm.f32(), t.rstd1.data(), n, d,
                  true, pool);
}

CrossEntropyResult LlamaTrainGraph::Impl::Head(const float* xf, float* dxf, double grad_denom, ThreadPool& pool) {
  const ModelConfig& c = m.config;
  const ModelWeights& w = m.weights;
  const int64_t d = c.n_embd, vocab = c.n_vocab;
  float* dout = dxf != nullptr ? m.GradOf(w.output) : nullptr;
  float* dnorm = dxf != nullptr ? m.GradOf(w.output_norm) : nullptr;
  const int64_t chunk = std::min(HeadChunk(vocab), n);
  std::vector<float> xn(static_cast<size_t>(chunk * d)), rstd(static_cast<size_t>(chunk));
  std::vector<float> logits(static_cast<size_t>(chunk * vocab)), dxn_rows(static_cast<size_t>(chunk * d));
  CrossEntropyResult total;
  for (int64_t r0 = 0; r0 < n; r0 += chunk) {
    const int64_t rows = std::min(chunk, n - r0);
    const int32_t* lab = labels.data() + r0;
    if (std::all_of(lab, lab + rows, [](int32_t v) { return v < 0; })) {
      if (dxf != nullptr) std::fill(dxf + r0 * d, dxf + (r0 + rows) * d, 0.0f);
      continue;
    }
    RmsNormForward(xn.data(), rstd.data(), xf + r0 * d, w.output_norm.f32(), rows, d, c.norm_eps, pool);
    MatMulF32Activations(w.output, xn.data(), rows, logits.data(), pool);
    float* dlogits = dxf != nullptr ? logits.data() : nullptr;
    const CrossEntropyResult part = CrossEntropyBackward(dlogits, logits.data(), lab, rows, vocab, grad_denom, pool);
    total.loss_sum += part.loss_sum;
    total.count += part.count;
    if (dxf == nullptr) continue;
    if (dout != nullptr) LinearBackwardWeight(dout, dlogits, xn.data(), rows, d, vocab, pool);
    LinearBackwardInput(dxn_rows.data(), dlogits, w.output, rows, false, pool);
    RmsNormBackward(dxf + r0 * d, dnorm, dxn_rows.data(), xf + r0 * d, w.output_norm.f32(), rstd.data(), rows, d,
                    false, pool);
  }
  return total;
}

Result<CrossEntropyResult> LlamaTrainGraph::Impl::Run(const TrainBatch& batch, bool train, double grad_denom,
                                                      uint64_t dropout_seed, ThreadPool& pool) {
  LEANLM_RETURN_IF_ERROR(Prepare(batch, train, dropout_seed));
  const ModelConfig& c = m.config;
  const int64_t d = c.n_embd;
  if (n_pre > 0) PrefixForward(m.prefix, prefix, pool);
  Embed(batch);
  for (int64_t l = 0; l < c.n_layer; ++l) {
    if (train && opt.recompute) inputs[static_cast<size_t>(l)].assign(x.begin(), x.end());
    LayerTape& t = tapes[train && !opt.recompute ? static_cast<size_t>(l) : 0];
    LayerForward(l, x.data(), t, pool);
  }
  if (!train) return Head(x.data(), nullptr, 0, pool);

  if (grad_denom <= 0) {
    grad_denom = static_cast<double>(std::count_if(labels.begin(), labels.end(), [](int32_t v) { return v >= 0; }));
  }
  Resize(dx, n * d);
  const CrossEntropyResult loss = Head(x.data(), dx.data(), grad_denom, pool);
  dprefix.assign(static_cast<size_t>(n_pre * c.n_layer * 2 * c.kv_dim()), 0.0f);
  for (int64_t l = c.n_layer - 1; l >= 0; --l) {
    LayerTape* t = &tapes[static_cast<size_t>(l)];
    if (opt.recompute) {
      t = &tapes[0];
      std::vector<float>& in = inputs[static_cast<size_t>(l)];
      LayerForward(l, in.data(), *t, pool);  // in is spent: it becomes the layer's output
    }
    LayerBackward(l, dx.data(), *t, pool);
  }
  if (n_pre > 0) PrefixBackward(m.prefix, dprefix.data(), prefix, pool);
  // The layer-0 input: prompt rows, then token embeddings.
  for (int64_t b = 0; b < nb; ++b) {
    const float* row = dx.data() + b * seq * d;
    if (m.prompt != nullptr) {
      for (int64_t i = 0; i < n_virt * d; ++i) m.prompt->grad[static_cast<size_t>(i)] += c.embed_scale * row[i];
    }
    if (float* g = m.GradOf(m.weights.token_embd); g != nullptr) {
      EmbeddingBackward(g, row + n_virt * d, batch.tokens + b * n_tok, n_tok, d, c.embed_scale, nullptr);
    }
  }
  return loss;
}

LlamaTrainGraph::LlamaTrainGraph(TrainableModel& model, TrainGraphOptions options)
    : impl_(std::make_unique<Impl>(model, options)) {}

LlamaTrainGraph::~LlamaTrainGraph() = default;

Result<CrossEntropyResult> LlamaTrainGraph::ForwardBackward(const TrainBatch& batch, double grad_denom,
                                                            uint64_t dropout_seed, ThreadPool& pool) {
  return impl_->Run(batch, true, grad_denom, dropout_seed, pool);
}

Result<CrossEntropyResult> LlamaTrainGraph::Evaluate(const TrainBatch& batch, ThreadPool& pool) {
  return impl_->Run(batch, false, 0, 0, pool);
}

}  // namespace leanlm
