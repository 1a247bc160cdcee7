#include "train/peft_methods.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "model/kv_cache.h"
#include "model/llama.h"
#include "train/llama_train_linear.h"
#include "train/llama_train_modules.h"
#include "train/peft_methods_base.h"

namespace leanlm {
namespace {

constexpr const char* kMethodNames[] = {"full", "lora", "dora", "qlora", "adapter", "prompt", "prefix", "ptuning2"};

// Initial values: splitmix64, so a seed gives the same start everywhere.
class InitRng {
 public:
  explicit InitRng(uint64_t seed) : state_(seed) {}
  double Uniform() {  // [0, 1)
    uint64_t x = (state_ += 0x9e3779b97f4a7c15ull);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return static_cast<double>((x ^ (x >> 31)) >> 11) * 0x1.0p-53;
  }
  float Symmetric(double bound) { return static_cast<float>((2 * Uniform() - 1) * bound); }
  float Normal() {  // Box-Muller
    const double u = 1 - Uniform(), v = Uniform();
    return static_cast<float>(std::sqrt(-2 * std::log(u)) * std::cos(2 * M_PI * v));
  }
  void FillSymmetric(std::vector<float>& v, double bound) {
    for (float& x : v) x = Symmetric(bound);
  }

 private:
  uint64_t state_;
};

// The slot a short target name means: q / attn_q / q_proj, ...
int SlotOfTarget(const std::string& t) {
  static constexpr const char* kShort[] = {"q", "k", "v", "o", "gate", "up", "down"};
  static constexpr const char* kHf[] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  for (int s = 0; s < kLinearSlots; ++s) {
    if (t == kShort[s] || t == kLinearSlotNames[static_cast<size_t>(s)] || t == kHf[s]) return s;
  }
  return -1;
}

const TensorView& SlotWeight(const LayerWeights& L, int slot) {
  const TensorView* views[] = {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down};
  return *views[slot];
}

std::string LinearName(int64_t layer, int slot) {
  return "blk." + std::to_string(layer) + "." + kLinearSlotNames[static_cast<size_t>(slot)];
}

Status AddLora(TrainableModel& m, const MethodOptions& o, InitRng& rng, ThreadPool& pool) {
  if (o.r <= 0 || o.r > 4096) return Status::Error("lora: r must be in [1, 4096], got " + std::to_string(o.r));
  if (!(o.dropout >= 0 && o.dropout < 1)) {
    return Status::Error("lora: dropout must be in [0, 1), got " + std::to_string(o.dropout));
  }
  std::array<bool, kLinearSlots> by_name{};
  std::unique_ptr<NamePattern> pattern;
  if (!o.target_pattern.empty()) {
    Result<NamePattern> p = NamePattern::Compile(o.target_pattern, "--targets");
    if (!p.ok()) return p.status();
    pattern = std::make_unique<NamePattern>(std::move(p).value());
  } else {
    for (const std::string& t : o.targets) {
      const int s = SlotOfTarget(t);
      if (s < 0) return Status::Error("--targets: unknown target '" + t + "' (expected q,k,v,o,gate,up,down)");
      by_name[static_cast<size_t>(s)] = true;
    }
  }
  const bool dora = o.method == TrainMethod::kDora;
  const float scale = o.rslora ? o.alpha / std::sqrt(static_cast<float>(o.r)) : o.alpha / static_cast<float>(o.r);
  for (int64_t l = 0; l < m.config.n_layer; ++l) {
    for (int s = 0; s < kLinearSlots; ++s) {
      const std::string name = LinearName(l, s);
      bool chosen = by_name[static_cast<size_t>(s)];
      if (pattern != nullptr) {
        Result<bool> found = pattern->Find(name + ".weight");
        if (!found.ok()) return found.status();
        chosen = *found;
      }
      if (!chosen) continue;
      const TensorView& w = SlotWeight(m.weights.layers[static_cast<size_t>(l)], s);
      auto mod = std::make_unique<LoraModule>();
      mod->in = LinearIn(m.config, static_cast<LinearSlot>(s));
      mod->out = w.rows();
      mod->r = o.r;
      mod->scale = scale;
      mod->a = m.AddTensor(name + ".lora_a", {mod->in, o.r, 1, 1}, 2, true);
      mod->b = m.AddTensor(name + ".lora_b", {o.r, mod->out, 1, 1}, 2, true);
      rng.FillSymmetric(mod->a->value, 1.0 / std::sqrt(static_cast<double>(mod->in)));
      if (dora) {
        mod->magnitude = m.AddTensor(name + ".lora_m", {mod->out, 1, 1, 1}, 1, false);
        mod->magnitude->value = DoraRowNorms(w, *mod, pool);  // B = 0: ‖W‖
      }
      m.layers[static_cast<size_t>(l)].lora[static_cast<size_t>(s)] = mod.get();
      m.lora_modules.push_back(std::move(mod));
    }
  }
  if (m.lora_modules.empty()) return Status::Error("--targets: no linear layer of the model is selected");
  m.lora_dropout = o.dropout;
  m.dora_detach_norm = o.dora_detach_norm;
  return Status::Ok();
}

Status AddBottlenecks(TrainableModel& m, const MethodOptions& o, InitRng& rng) {
  const int64_t d = m.config.n_embd, h = o.bottleneck;
  if (h <= 0 || h > 65536) return Status::Error("adapter: bottleneck must be in [1, 65536], got " + std::to_string(h));
  if (!o.adapter_attn && !o.adapter_ffn) return Status::Error("adapter: neither attention nor MLP is adapted");
  for (int64_t l = 0; l < m.config.n_layer; ++l) {
    for (const bool attn : {true, false}) {
      if (attn ? !o.adapter_attn : !o.adapter_ffn) continue;
      const std::string p = "blk." + std::to_string(l) + (attn ? ".adapter_attn" : ".adapter_ffn");
      auto mod = std::make_unique<BottleneckModule>();
      mod->dim = d;
      mod->hidden = h;
      mod->down = m.AddTensor(p + ".down", {d, h, 1, 1}, 2, true);
      mod->down_bias = m.AddTensor(p + ".down_bias", {h, 1, 1, 1}, 1, false);
      mod->up = m.AddTensor(p + ".up", {h, d, 1, 1}, 2, true);  // zero: the adapter starts as the identity
      mod->up_bias = m.AddTensor(p + ".up_bias", {d, 1, 1, 1}, 1, false);
      rng.FillSymmetric(mod->down->value, 1.0 / std::sqrt(static_cast<double>(d)));
      LayerTrainables& L = m.layers[static_cast<size_t>(l)];
      (attn ? L.adapter_attn : L.adapter_ffn) = mod.get();
      m.bottlenecks.push_back(std::move(mod));
    }
  }
  return Status::Ok();
}

Status CheckVirtual(const MethodOptions& o, const ModelConfig& c) {
  if (o.n_virtual <= 0 || o.n_virtual > c.n_ctx_train) {
    return Status::Error("--virtual-tokens must be in [1, " + std::to_string(c.n_ctx_train) + "], got " +
                         std::to_string(o.n_virtual));
  }
  return Status::Ok();
}

void AddPrompt(TrainableModel& m, const MethodOptions& o, InitRng& rng) {
  const int64_t d = m.config.n_embd;
  m.prompt = m.AddTensor("prompt.embd", {d, o.n_virtual, 1, 1}, 2, false);
  const TensorView& table = m.weights.token_embd;
  for (int64_t p = 0; p < o.n_virtual; ++p) {
    const auto token = static_cast<int64_t>(rng.Uniform() * static_cast<double>(m.config.n_vocab));
    GetTypeTraits(table.type).to_float(table.row(token), m.prompt->value.data() + p * d, d);
  }
}

// ptuning2: the keys and values the base model itself gives random tokens.
void AddPrefixDirect(TrainableModel& m, const MethodOptions& o, InitRng& rng, ThreadPool& pool) {
  const ModelConfig& c = m.config;
  const int64_t kvd = c.kv_dim(), p = o.n_virtual, width = c.n_layer * 2 * kvd;
  m.prefix.n_virtual = p;
  m.prefix.embd = m.AddTensor("prefix.embd", {width, p, 1, 1}, 2, false);
  std::vector<int32_t> tokens(static_cast<size_t>(p));
  for (int32_t& t : tokens) t = static_cast<int32_t>(rng.Uniform() * static_cast<double>(c.n_vocab));
  LlamaModel base(c, m.weights);
  KvCache cache(c, p);
  std::vector<float> logits(static_cast<size_t>(c.n_vocab));
  LEANLM_CHECK(base.Forward(tokens.data(), p, 0, cache, logits.data(), false, pool).ok());
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const KvView kv = cache.View(l);
    for (int64_t i = 0; i < p; ++i) {
      float* row = m.prefix.embd->value.data() + i * width + l * 2 * kvd;
      for (int64_t g = 0; g < c.n_head_kv; ++g) {
        const int64_t at = g * kv.head_stride + i * kv.pos_stride;
        std::copy(kv.k + at, kv.k + at + c.head_dim, row + g * c.head_dim);
        std::copy(kv.v + at, kv.v + at + c.head_dim, row + kvd + g * c.head_dim);
      }
    }
  }
}

// prefix: PEFT's PrefixEncoder with prefix_projection (torch default inits).
void AddPrefixMlp(TrainableModel& m, const MethodOptions& o, InitRng& rng) {
  const ModelConfig& c = m.config;
  const int64_t d = c.n_embd, p = o.n_virtual, width = c.n_layer * 2 * c.kv_dim();
  const int64_t hidden = o.prefix_hidden > 0 ? o.prefix_hidden : d;
  PrefixModule& x = m.prefix;
  x.n_virtual = p;
  x.embd = m.AddTensor("prefix.embd", {d, p, 1, 1}, 2, false);
  for (float& v : x.embd->value) v = rng.Normal();
  x.mlp1 = m.AddTensor("prefix.mlp1.weight", {d, hidden, 1, 1}, 2, true);
  x.mlp1_bias = m.AddTensor("prefix.mlp1.bias", {hidden, 1, 1, 1}, 1, false);
  x.mlp2 = m.AddTensor("prefix.mlp2.weight", {hidden, width, 1, 1}, 2, true);
  x.mlp2_bias = m.AddTensor("prefix.mlp2.bias", {width, 1, 1, 1}, 1, false);
  const double b1 = 1 / std::sqrt(static_cast<double>(d)), b2 = 1 / std::sqrt(static_cast<double>(hidden));
  rng.FillSymmetric(x.mlp1->value, b1);
  rng.FillSymmetric(x.mlp1_bias->value, b1);
  rng.FillSymmetric(x.mlp2->value, b2);
  rng.FillSymmetric(x.mlp2_bias->value, b2);
}

std::string Grouped(int64_t v) {
  const std::string digits = std::to_string(v);
  std::string s;  // built forward: GCC 12's -Wrestrict misfires on std::string::insert
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) s.push_back(',');
    s.push_back(digits[i]);
  }
  return s;
}

}  // namespace

Result<TrainMethod> ParseTrainMethod(const std::string& name) {
  std::string known;
  for (int i = 0; i < 8; ++i) {
    if (name == kMethodNames[i]) return static_cast<TrainMethod>(i);
    known += std::string(i ? ", " : "") + kMethodNames[i];
  }
  return Status::Error("--method '" + name + "': unknown (expected one of " + known + ")");
}

const char* TrainMethodName(TrainMethod method) { return kMethodNames[static_cast<int>(method)]; }

Result<std::unique_ptr<TrainableModel>> BuildTrainableModel(const ModelConfig& config, const ModelWeights& base,
                                                            const MethodOptions& o, ThreadPool& pool) {
  LEANLM_RETURN_IF_ERROR(config.Validate("fine-tuning"));
  auto m = std::make_unique<TrainableModel>();
  m->config = config;
  m->weights = base;
  m->layers.resize(static_cast<size_t>(config.n_layer));
  ConvertVectorsToF32(*m);
  InitRng rng(o.seed);
  switch (o.method) {
    case TrainMethod::kFull: {
      std::unique_ptr<NamePattern> pattern;
      if (!o.full_pattern.empty()) {
        Result<NamePattern> p = NamePattern::Compile(o.full_pattern, "--tensors");
        if (!p.ok()) return p.status();
        pattern = std::make_unique<NamePattern>(std::move(p).value());
      }
      LEANLM_RETURN_IF_ERROR(MakeWeightsTrainable(*m, pattern.get()));
      break;
    }
    case TrainMethod::kQlora:
      QuantizeBaseNf4(*m, o.qlora_double_quant, o.qlora_embeddings);
      [[fallthrough]];
    case TrainMethod::kLora:
    case TrainMethod::kDora:
      LEANLM_RETURN_IF_ERROR(AddLora(*m, o, rng, pool));
      break;
    case TrainMethod::kAdapter:
      LEANLM_RETURN_IF_ERROR(AddBottlenecks(*m, o, rng));
      break;
    case TrainMethod::kPrompt:
      LEANLM_RETURN_IF_ERROR(CheckVirtual(o, config));
      AddPrompt(*m, o, rng);
      break;
    case TrainMethod::kPrefix:
      LEANLM_RETURN_IF_ERROR(CheckVirtual(o, config));
      AddPrefixMlp(*m, o, rng);
      break;
    case TrainMethod::kPtuning2:
      LEANLM_RETURN_IF_ERROR(CheckVirtual(o, config));
      AddPrefixDirect(*m, o, rng, pool);
      break;
  }
  return m;
}

std::string DescribeTrainable(const TrainableModel& model) {
  const int64_t trainable = model.n_trainable(), total = model.n_total();
  char pct[32];
  std::snprintf(pct, sizeof(pct), "%.4g%%", total > 0 ? 100.0 * static_cast<double>(trainable) / total : 0.0);
  return "trainable " + Grouped(trainable) + " / " + Grouped(total) + " parameters (" + pct + ")";
}

Result<Adapter> ExportAdapter(const TrainableModel& m, const MethodOptions& o, ThreadPool& pool) {
  Adapter adapter;
  const ModelConfig& c = m.config;
  switch (o.method) {
    case TrainMethod::kLora:
    case TrainMethod::kDora:
    case TrainMethod::kQlora: {
      LoraAdapter lora;
      lora.r = o.r;
      lora.alpha = o.alpha;
      lora.rslora = o.rslora;
      lora.dropout = o.dropout;
      for (int64_t l = 0; l < c.n_layer; ++l) {
        for (int s = 0; s < kLinearSlots; ++s) {
          const LoraModule* mod = m.layers[static_cast<size_t>(l)].lora[static_cast<size_t>(s)];
          if (mod == nullptr) continue;
          LoraTarget t;
          t.weight = LinearName(l, s) + ".weight";
          t.in = mod->in;
          t.out = mod->out;
          t.a = mod->a->value;
          t.b = mod->b->value;
          if (mod->magnitude != nullptr) t.magnitude = mod->magnitude->value;
          lora.targets.push_back(std::move(t));
        }
      }
      adapter.value = std::move(lora);
      break;
    }
    case TrainMethod::kPrompt: {
      PromptAdapter prompt;
      prompt.n_virtual = m.prompt->ne[1];
      prompt.n_embd = c.n_embd;
      prompt.embeddings = m.prompt->value;
      adapter.value = std::move(prompt);
      break;
    }
    case TrainMethod::kPrefix:
    case TrainMethod::kPtuning2: {
      PrefixTape tape;
      PrefixForward(m.prefix, tape, pool);
      PrefixAdapter prefix;
      const int64_t kvd = c.kv_dim(), p = m.prefix.n_virtual;
      prefix.n_virtual = p;
      prefix.n_layer = c.n_layer;
      prefix.kv_dim = kvd;
      prefix.projection = m.prefix.mlp1 != nullptr;
      prefix.encoder_hidden = prefix.projection ? m.prefix.mlp1->ne[1] : 0;
      for (int64_t l = 0; l < c.n_layer; ++l) {
        std::vector<float>& k = prefix.keys.emplace_back(static_cast<size_t>(p * kvd));
        std::vector<float>& v = prefix.values.emplace_back(static_cast<size_t>(p * kvd));
        for (int64_t i = 0; i < p; ++i) {
          const float* row = tape.kv.data() + (i * c.n_layer + l) * 2 * kvd;
          std::copy(row, row + kvd, k.begin() + i * kvd);
          std::copy(row + kvd, row + 2 * kvd, v.begin() + i * kvd);
        }
      }
      adapter.value = std::move(prefix);
      break;
    }
    case TrainMethod::kFull:
    case TrainMethod::kAdapter:
      return Status::Error(std::string("--method ") + TrainMethodName(o.method) +
                           " has no PEFT adapter form (full saves the model; adapter saves its own tensors)");
  }
  adapter.name = TrainMethodName(o.method);
  return adapter;
}

}  // namespace leanlm
