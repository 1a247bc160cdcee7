#include "peft/peft_format.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cmath>
#include <map>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/mmap_file.h"
#include "io/hf_names.h"
#include "io/safetensors.h"
#include "io/strict_json.h"
#include "peft/adapter_shapes.h"

namespace leanlm {
namespace {

using Json = nlohmann::json;

constexpr const char* kPrefix = "base_model.model.";
constexpr size_t kMaxConfigBytes = 1 << 20;
constexpr int64_t kMaxVirtual = 1 << 20;

std::string Str(int64_t v) { return std::to_string(v); }

std::string ShapeString(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + Str(s[i]);
  return out + "]";
}

// The tensor's values as F32; its PyTorch shape must be `shape`.
Result<std::vector<float>> ReadFloats(const SafetensorsTensor& t, const std::vector<int64_t>& shape,
                                      const std::string& source) {
  if (t.shape != shape) {
    return Status::Error(source + ": tensor " + t.name + " has shape " + ShapeString(t.shape) + ", expected " +
                         ShapeString(shape) + " (an adapter for another base model?)");
  }
  LEANLM_ASSIGN_OR_RETURN(const TensorView view, t.View(source));
  if (view.type != DType::kF32 && view.type != DType::kF16 && view.type != DType::kBF16) {
    return Status::Error(source + ": tensor " + t.name + " has dtype " + t.dtype + "; expected F32, F16 or BF16");
  }
  std::vector<float> out(static_cast<size_t>(view.elements()));
  GetTypeTraits(view.type).to_float(view.data, out.data(), view.elements());
  return out;
}

// Typed reads of adapter_config.json; null counts as absent, as in PEFT.
class ConfigFields {
 public:
  ConfigFields(const Json& j, std::string source) : j_(j), source_(std::move(source)) {}
  bool Has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }
  Status Error(const char* key, const std::string& what) const {
    return Status::Error(source_ + ": key \"" + key + "\" " + what);
  }
  Result<std::string> String(const char* key, const std::string& def = "") const {
    if (!Has(key)) return def;
    if (!j_.at(key).is_string()) return Error(key, "must be a string, got " + j_.at(key).dump());
    return j_.at(key).get<std::string>();
  }
  Result<int64_t> Count(const char* key, int64_t max, bool required = true, int64_t def = 0) const {
    if (!Has(key)) return required ? Error(key, "is missing") : Result<int64_t>(def);
    const Json& v = j_.at(key);
    if (!v.is_number_unsigned() || v.get<uint64_t>() < 1 || v.get<uint64_t>() > static_cast<uint64_t>(max)) {
      return Error(key, "must be an integer in [1, " + Str(max) + "], got " + v.dump());
    }
    return static_cast<int64_t>(v.get<uint64_t>());
  }
  Result<double> Number(const char* key, bool required, double def) const {
    if (!Has(key)) return required ? Error(key, "is missing") : Result<double>(def);
    if (!j_.at(key).is_number()) return Error(key, "must be a number, got " + j_.at(key).dump());
    const double x = j_.at(key).get<double>();
    if (!std::isfinite(x)) return Error(key, "must be finite");
    return x;
  }
  Result<bool> Bool(const char* key, bool def) const {
    if (!Has(key)) return def;
    if (!j_.at(key).is_boolean()) return Error(key, "must be true or false, got " + j_.at(key).dump());
    return j_.at(key).get<bool>();
  }
  // A key whose only supported value is absent/null/empty.
  Status Empty(const char* key, const std::string& why) const {
    if (!Has(key)) return Status::Ok();
    const Json& v = j_.at(key);
    if ((v.is_object() || v.is_array()) && v.empty()) return Status::Ok();
    return Error(key, "= " + QuoteForMessage(v.dump()) + " is not supported: " + why);
  }

 private:
  const Json& j_;
  std::string source_;
};

Result<Adapter> LoadLora(const ConfigFields& f, const SafetensorsFile& st, const ModelConfig& config,
                         const std::string& st_path) {
  LoraAdapter lora;
  LEANLM_ASSIGN_OR_RETURN(lora.r, f.Count("r", 1 << 16));
  LEANLM_ASSIGN_OR_RETURN(const double alpha, f.Number("lora_alpha", false, 8.0));  // PEFT's default
  lora.alpha = static_cast<float>(alpha);
  LEANLM_ASSIGN_OR_RETURN(lora.rslora, f.Bool("use_rslora", false));
  LEANLM_ASSIGN_OR_RETURN(const bool dora, f.Bool("use_dora", false));
  LEANLM_ASSIGN_OR_RETURN(const double dropout, f.Number("lora_dropout", false, 0.0));
  if (dropout < 0 || dropout >= 1) return f.Error("lora_dropout", "must be in [0, 1)");
  lora.dropout = static_cast<float>(dropout);
  LEANLM_ASSIGN_OR_RETURN(const std::string bias, f.String("bias", "none"));
  if (bias != "none") return f.Error("bias", "= \"" + QuoteForMessage(bias) + "\" is not supported (only \"none\")");
  LEANLM_ASSIGN_OR_RETURN(const bool fan_in_fan_out, f.Bool("fan_in_fan_out", false));
  if (fan_in_fan_out) return f.Error("fan_in_fan_out", "= true is for GPT-2's Conv1D, not LLaMA models");
  LEANLM_RETURN_IF_ERROR(f.Empty("rank_pattern", "every layer must use r"));
  LEANLM_RETURN_IF_ERROR(f.Empty("alpha_pattern", "every layer must use lora_alpha"));
  LEANLM_RETURN_IF_ERROR(f.Empty("modules_to_save", "it stores whole trained weights"));
  LEANLM_RETURN_IF_ERROR(f.Empty("layer_replication", "it changes the model's layers"));
  LEANLM_RETURN_IF_ERROR(f.Empty("trainable_token_indices", "it changes embeddings"));

  // Gather A, B and magnitudes by target.
  std::map<std::string, const SafetensorsTensor*> a, b, m;
  for (const SafetensorsTensor& t : st.tensors()) {
    const std::string& name = t.name;
    auto unknown = [&](const std::string& why) {
      return Status::Error(st_path + ": tensor " + QuoteForMessage(name) + ": " + why);
    };
    if (name.rfind(kPrefix, 0) != 0) return unknown("expected a name starting with base_model.model.");
    std::string module = name.substr(std::string(kPrefix).size());
    std::map<std::string, const SafetensorsTensor*>* dest = nullptr;
    for (auto [suffix, d] : {std::pair{".lora_A.weight", &a}, std::pair{".lora_B.weight", &b},
                             std::pair{".lora_magnitude_vector", &m}, std::pair{".lora_magnitude_vector.weight", &m}}) {
      const std::string s = suffix;
      if (module.size() > s.size() && module.compare(module.size() - s.size(), s.size(), s) == 0) {
        module.resize(module.size() - s.size());
        dest = d;
        break;
      }
    }
    if (dest == nullptr) {
      return unknown("not a LoRA tensor (lora_A.weight, lora_B.weight, lora_magnitude_vector); biases, "
                     "embedding LoRA and modules_to_save are not supported");
    }
    const HfNameMapping mapped = HfToGgufName(module + ".weight");
    if (mapped.kind != HfNameKind::kMapped) return unknown("no such weight in a LLaMA-family model");
    auto found = FindAdaptedLinear(config, mapped.gguf_name);
    if (!found.ok()) return found.status().WithContext(st_path);
    if (!dest->emplace(mapped.gguf_name, &t).second) return unknown("given twice");
  }
  if (a.empty()) return Status::Error(st_path + ": no LoRA tensors");
  if (!m.empty() && !dora) return f.Error("use_dora", "is false but the file holds DoRA magnitude vectors");
  for (const auto& [weight, ta] : a) {
    const AdaptedLinear lin = FindAdaptedLinear(config, weight).value();
    const std::string hf = GgufToHfName(weight, config.arch);
    if (!b.count(weight)) return Status::Error(st_path + ": " + hf + " has lora_A but no lora_B");
    if (dora && !m.count(weight)) return Status::Error(st_path + ": " + hf + " has no DoRA lora_magnitude_vector");
    LoraTarget t;
    t.weight = weight;
    t.in = lin.in;
    t.out = lin.out;
    LEANLM_ASSIGN_OR_RETURN(t.a, ReadFloats(*ta, {lora.r, lin.in}, st_path));
    LEANLM_ASSIGN_OR_RETURN(t.b, ReadFloats(*b.at(weight), {lin.out, lora.r}, st_path));
    if (dora) {
      LEANLM_ASSIGN_OR_RETURN(t.magnitude, ReadFloats(*m.at(weight), {lin.out}, st_path));
    }
    lora.targets.push_back(std::move(t));
  }
  for (const auto& [weight, tb] : b) {
    if (!a.count(weight)) return Status::Error(st_path + ": " + tb->name + " has no matching lora_A");
  }
  for (const auto& [weight, tm] : m) {
    if (!a.count(weight)) return Status::Error(st_path + ": " + tm->name + " has no matching lora_A");
  }
  Adapter adapter;
  adapter.value = std::move(lora);
  return adapter;
}

Result<Adapter> LoadPromptLearning(const ConfigFields& f, const std::string& type, const SafetensorsFile& st,
                                   const ModelConfig& c, const std::string& st_path) {
  LEANLM_ASSIGN_OR_RETURN(const int64_t n_virtual, f.Count("num_virtual_tokens", kMaxVirtual));
  LEANLM_ASSIGN_OR_RETURN(const int64_t submodules, f.Count("num_transformer_submodules", 2, false, 1));
  if (submodules != 1) return f.Error("num_transformer_submodules", "must be 1 for a decoder-only model");
  if (st.tensors().size() != 1 || st.tensors()[0].name != "prompt_embeddings") {
    return Status::Error(st_path + ": expected exactly one tensor, prompt_embeddings");
  }
  const SafetensorsTensor& t = st.tensors()[0];
  Adapter adapter;
  if (type == "PROMPT_TUNING") {
    LEANLM_ASSIGN_OR_RETURN(const int64_t token_dim, f.Count("token_dim", 1 << 24, false, c.n_embd));
    if (token_dim != c.n_embd) {
      return f.Error("token_dim", "= " + Str(token_dim) + " but the model's embeddings are " + Str(c.n_embd) +
                                      " wide (an adapter for another base model?)");
    }
    PromptAdapter p;
    p.n_virtual = n_virtual;
    p.n_embd = c.n_embd;
    LEANLM_ASSIGN_OR_RETURN(p.embeddings, ReadFloats(t, {n_virtual, c.n_embd}, st_path));
    adapter.value = std::move(p);
    return adapter;
  }
  LEANLM_ASSIGN_OR_RETURN(const int64_t token_dim, f.Count("token_dim", 1 << 24, false, c.kv_dim()));
  LEANLM_ASSIGN_OR_RETURN(const int64_t n_layers, f.Count("num_layers", 1 << 16, false, c.n_layer));
  LEANLM_ASSIGN_OR_RETURN(const int64_t heads, f.Count("num_attention_heads", 1 << 16, false, c.n_head_kv));
  if (token_dim != c.kv_dim() || heads != c.n_head_kv || n_layers != c.n_layer) {
    return Status::Error(st_path + ": the prefix is for " + Str(n_layers) + " layers of " + Str(heads) +
                         " key/value heads (token_dim " + Str(token_dim) + ") but the model has " + Str(c.n_layer) +
                         " layers of " + Str(c.n_head_kv) + " (token_dim " + Str(c.kv_dim()) + ")");
  }
  PrefixAdapter p;
  p.n_virtual = n_virtual;
  p.n_layer = c.n_layer;
  p.kv_dim = c.kv_dim();
  LEANLM_ASSIGN_OR_RETURN(p.projection, f.Bool("prefix_projection", false));
  LEANLM_ASSIGN_OR_RETURN(p.encoder_hidden, f.Count("encoder_hidden_size", 1 << 24, false, token_dim));
  LEANLM_ASSIGN_OR_RETURN(const std::vector<float> all,
                          ReadFloats(t, {n_virtual, c.n_layer * 2 * c.kv_dim()}, st_path));
  p.keys.assign(static_cast<size_t>(c.n_layer), std::vector<float>(static_cast<size_t>(n_virtual * c.kv_dim())));
  p.values = p.keys;
  for (int64_t v = 0; v < n_virtual; ++v) {
    for (int64_t l = 0; l < c.n_layer; ++l) {
      const float* row = all.data() + (v * c.n_layer * 2 + 2 * l) * c.kv_dim();
      std::copy(row, row + c.kv_dim(), p.keys[static_cast<size_t>(l)].begin() + v * c.kv_dim());
      std::copy(row + c.kv_dim(), row + 2 * c.kv_dim(), p.values[static_cast<size_t>(l)].begin() + v * c.kv_dim());
    }
  }
  adapter.value = std::move(p);
  return adapter;
}

// A view of v as ne {ne0, ne1} (n_dims 2), or {ne0} when ne1 == 0.
TensorView F32View(const std::vector<float>& v, int64_t ne0, int64_t ne1) {
  TensorView t;
  t.data = v.data();
  t.type = DType::kF32;
  t.n_dims = ne1 > 0 ? 2 : 1;
  t.ne = {ne0, std::max<int64_t>(ne1, 1), 1, 1};
  return t;
}

Json Number(float x) {
  const double d = x;
  if (std::floor(d) == d && std::fabs(d) < 1e15) return Json(static_cast<int64_t>(d));
  return Json(d);
}

}  // namespace

Result<Adapter> LoadPeftAdapter(const std::string& dir, const ModelConfig& config) {
  const std::string cfg_path = dir + "/" + kPeftConfigFile;
  const std::string st_path = dir + "/" + kPeftWeightsFile;
  LEANLM_ASSIGN_OR_RETURN(const std::string text, ReadTextFile(cfg_path, kMaxConfigBytes));
  LEANLM_ASSIGN_OR_RETURN(const Json j, ParseStrictJson(text, cfg_path));
  if (!j.is_object()) return Status::Error(cfg_path + ": expected a JSON object");
  struct stat sb;
  if (::stat(st_path.c_str(), &sb) != 0) {
    const std::string bin = dir + "/adapter_model.bin";
    if (::stat(bin.c_str(), &sb) == 0) {
      return Status::Error(bin + ": PyTorch pickle files are not read (they can run code); save the adapter with "
                           "safe_serialization=True");
    }
  }
  LEANLM_ASSIGN_OR_RETURN(const SafetensorsFile st, OpenSafetensors(st_path));
  Result<Adapter> adapter = Status::Error("unreachable");
  try {
    ConfigFields f(j, cfg_path);
    LEANLM_ASSIGN_OR_RETURN(const std::string type, f.String("peft_type"));
    LEANLM_ASSIGN_OR_RETURN(const std::string task, f.String("task_type", "CAUSAL_LM"));
    if (task != "CAUSAL_LM") return f.Error("task_type", "= \"" + QuoteForMessage(task) + "\": expected CAUSAL_LM");
    if (type == "LORA") {
      adapter = LoadLora(f, st, config, st_path);
    } else if (type == "PROMPT_TUNING" || type == "PREFIX_TUNING") {
      adapter = LoadPromptLearning(f, type, st, config, st_path);
    } else {
      return f.Error("peft_type", "= \"" + QuoteForMessage(type) +
                                      "\" is not supported (LORA, PROMPT_TUNING, PREFIX_TUNING)");
    }
    if (!adapter.ok()) return adapter.status();
    LEANLM_ASSIGN_OR_RETURN(adapter->base_model, f.String("base_model_name_or_path"));
    if (j.contains("target_modules") && j["target_modules"].is_array()) {
      for (const Json& m : j["target_modules"]) {
        if (m.is_string()) adapter->target_modules.push_back(m.get<std::string>());
      }
    }
  } catch (const std::exception& e) {  // not expected: every access is type-checked first
    return Status::Error(cfg_path + ": " + e.what());
  }
  adapter->name = dir;
  LEANLM_RETURN_IF_ERROR(ValidateAdapter(*adapter, config, dir));
  // PEFT's tensors are in HF's rotate_half layout.
  LEANLM_RETURN_IF_ERROR(ConvertAdapterLayout(*adapter, config, /*from_neox=*/true, config.rope_neox));
  return adapter;
}

Status SavePeftAdapter(const Adapter& adapter_in, const ModelConfig& config, const std::string& dir) {
  LEANLM_RETURN_IF_ERROR(ValidateAdapter(adapter_in, config, dir));
  Adapter adapter = adapter_in;
  LEANLM_RETURN_IF_ERROR(ConvertAdapterLayout(adapter, config, config.rope_neox, /*to_neox=*/true));
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::Error(dir + ": cannot create the directory: " + std::strerror(errno));
  }
  Json j = Json::object();
  j["base_model_name_or_path"] = adapter.base_model.empty() ? Json(nullptr) : Json(adapter.base_model);
  j["inference_mode"] = true;
  j["revision"] = nullptr;
  j["task_type"] = "CAUSAL_LM";
  std::map<std::string, TensorView> tensors;
  std::vector<float> packed;  // prefix tuning's flattened keys/values
  if (const LoraAdapter* lora = adapter.lora()) {
    std::set<std::string> modules;
    std::set<int64_t> layers;
    for (const LoraTarget& t : lora->targets) {
      const std::string hf = GgufToHfName(t.weight, config.arch);  // model.layers.N.self_attn.q_proj.weight
      const std::string module = hf.substr(0, hf.size() - std::string(".weight").size());
      modules.insert(module.substr(module.rfind('.') + 1));
      layers.insert(FindAdaptedLinear(config, t.weight).value().layer);
      const std::string key = kPrefix + module;
      tensors[key + ".lora_A.weight"] = F32View(t.a, t.in, lora->r);
      tensors[key + ".lora_B.weight"] = F32View(t.b, lora->r, t.out);
      if (!t.magnitude.empty()) tensors[key + ".lora_magnitude_vector"] = F32View(t.magnitude, t.out, 0);
    }
    j["peft_type"] = "LORA";
    j["r"] = lora->r;
    j["lora_alpha"] = Number(lora->alpha);
    j["lora_dropout"] = Number(lora->dropout);
    j["use_rslora"] = lora->rslora;
    j["use_dora"] = lora->dora();
    j["bias"] = "none";
    j["fan_in_fan_out"] = false;
    j["init_lora_weights"] = true;
    j["target_modules"] = std::vector<std::string>(modules.begin(), modules.end());
    // PEFT adapts every layer's target_modules unless told which layers.
    j["layers_to_transform"] = static_cast<int64_t>(layers.size()) == config.n_layer
                                   ? Json(nullptr)
                                   : Json(std::vector<int64_t>(layers.begin(), layers.end()));
    j["modules_to_save"] = nullptr;
    j["rank_pattern"] = Json::object();
    j["alpha_pattern"] = Json::object();
  } else if (const PromptAdapter* p = adapter.prompt()) {
    tensors["prompt_embeddings"] = F32View(p->embeddings, p->n_embd, p->n_virtual);
    j["peft_type"] = "PROMPT_TUNING";
    j["num_virtual_tokens"] = p->n_virtual;
    j["token_dim"] = config.n_embd;
    j["num_transformer_submodules"] = 1;
    j["num_attention_heads"] = config.n_head;
    j["num_layers"] = config.n_layer;
    j["prompt_tuning_init"] = "RANDOM";
  } else {
    const PrefixAdapter& px = *adapter.prefix();
    const int64_t kv = px.kv_dim;
    packed.resize(static_cast<size_t>(px.n_virtual * px.n_layer * 2 * kv));
    for (int64_t v = 0; v < px.n_virtual; ++v) {
      for (int64_t l = 0; l < px.n_layer; ++l) {
        float* row = packed.data() + (v * px.n_layer * 2 + 2 * l) * kv;
        const auto& keys = px.keys[static_cast<size_t>(l)];
        const auto& values = px.values[static_cast<size_t>(l)];
        std::copy(keys.begin() + v * kv, keys.begin() + (v + 1) * kv, row);
        std::copy(values.begin() + v * kv, values.begin() + (v + 1) * kv, row + kv);
      }
    }
    tensors["prompt_embeddings"] = F32View(packed, px.n_layer * 2 * kv, px.n_virtual);
    j["peft_type"] = "PREFIX_TUNING";
    j["num_virtual_tokens"] = px.n_virtual;
    j["token_dim"] = kv;
    j["num_transformer_submodules"] = 1;
    j["num_attention_heads"] = config.n_head_kv;
    j["num_layers"] = px.n_layer;
    j["encoder_hidden_size"] = px.encoder_hidden > 0 ? px.encoder_hidden : kv;
    j["prefix_projection"] = px.projection;
  }
  const std::string text = j.dump(2) + "\n";
  LEANLM_ASSIGN_OR_RETURN(std::unique_ptr<AtomicFileWriter> w, AtomicFileWriter::Create(dir + "/" + kPeftConfigFile));
  LEANLM_RETURN_IF_ERROR(w->Write(text.data(), text.size()));
  LEANLM_RETURN_IF_ERROR(w->Commit());
  return WriteSafetensors(dir + "/" + kPeftWeightsFile, tensors, {{"format", "pt"}});
}

}  // namespace leanlm
