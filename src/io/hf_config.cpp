// config.json <-> ModelConfig. Defaults follow the transformers config
// classes (LlamaConfig, MistralConfig, Qwen2Config, Phi3Config, GemmaConfig)
// for optional keys; the keys that fix the model's shape are required.
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>

#include <nlohmann/json.hpp>

#include "base/log.h"
#include "io/hf_dir.h"
#include "io/strict_json.h"

namespace leanlm {
namespace {

using Json = nlohmann::json;

constexpr int64_t kMaxDim = int64_t{1} << 24;  // far above any real model; keeps products in range

// Where a model class takes its Q/K/V biases from.
enum class QkvBias { kFromConfig, kAlways, kNever };

struct ModelType {
  const char* model_type;
  const char* arch;             // GGUF general.architecture
  const char* hf_class;         // "architectures" entry written on save
  bool default_tied;
  int64_t default_ctx;
  double default_eps;
  QkvBias bias;                 // llama/gemma: attention_bias (o_proj too); qwen2: always; others: never
};

constexpr ModelType kModelTypes[] = {
    {"llama", "llama", "LlamaForCausalLM", false, 2048, 1e-6, QkvBias::kFromConfig},
    {"mistral", "llama", "MistralForCausalLM", false, 4096 * 32, 1e-6, QkvBias::kNever},
    {"qwen2", "qwen2", "Qwen2ForCausalLM", false, 32768, 1e-6, QkvBias::kAlways},
    {"phi3", "phi3", "Phi3ForCausalLM", false, 4096, 1e-5, QkvBias::kNever},
    {"gemma", "gemma", "GemmaForCausalLM", true, 8192, 1e-6, QkvBias::kFromConfig},
};

const ModelType* FindModelType(const std::string& name) {
  for (const ModelType& t : kModelTypes) {
    if (name == t.model_type) return &t;
  }
  return nullptr;
}

// Typed access to an object's keys; a null value counts as absent, as in
// transformers. Messages name the file and the (dotted) key.
class Fields {
 public:
  Fields(const Json& j, const std::string& source, std::string prefix = "")
      : j_(j), source_(source), prefix_(std::move(prefix)) {}

  bool Has(const char* key) const {
    const auto it = j_.find(key);
    return it != j_.end() && !it->is_null();
  }
  const std::string& source() const { return source_; }
  Status Error(const char* key, const std::string& what) const {
    return Status::Error(source_ + ": key '" + prefix_ + key + "' " + what);
  }

  // A positive integer in [1, kMaxDim]; required when `def` is absent.
  Result<int64_t> Size(const char* key, std::optional<int64_t> def = std::nullopt) const {
    if (!Has(key)) {
      if (def) return *def;
      return Error(key, "is missing");
    }
    const Json& v = j_[key];
    if (!v.is_number_integer()) return Error(key, "must be an integer, got " + v.dump());
    if (!v.is_number_unsigned() || v.get<uint64_t>() < 1 || v.get<uint64_t>() > static_cast<uint64_t>(kMaxDim)) {
      return Error(key, "must be in [1, " + std::to_string(kMaxDim) + "], got " + v.dump());
    }
    return static_cast<int64_t>(v.get<uint64_t>());
  }

  // A finite number > 0 that fits a float.
  Result<double> Positive(const char* key, std::optional<double> def = std::nullopt) const {
    if (!Has(key)) {
      if (def) return *def;
      return Error(key, "is missing");
    }
    const Json& v = j_[key];
    if (!v.is_number()) return Error(key, "must be a number, got " + v.dump());
    const double x = v.get<double>();
    if (!(x > 0) || !std::isfinite(static_cast<float>(x)) || static_cast<float>(x) == 0.0f) {
      return Error(key, "must be a positive finite number, got " + v.dump());
    }
    return x;
  }

  Result<bool> Bool(const char* key, bool def) const {
    if (!Has(key)) return def;
    const Json& v = j_[key];
    if (!v.is_boolean()) return Error(key, "must be true or false, got " + v.dump());
    return v.get<bool>();
  }

  Result<std::optional<std::string>> String(const char* key) const {
    if (!Has(key)) return std::optional<std::string>();
    const Json& v = j_[key];
    if (!v.is_string()) return Error(key, "must be a string, got " + v.dump());
    return std::optional<std::string>(v.get<std::string>());
  }

 private:
  const Json& j_;
  const std::string& source_;
  std::string prefix_;
};

Status ParseRopeScaling(const Json& root, const std::string& source, ModelConfig& c) {
  const Fields top(root, source);
  if (!top.Has("rope_scaling")) return Status::Ok();
  const Json& rs = root["rope_scaling"];
  if (!rs.is_object()) return top.Error("rope_scaling", "must be an object or null");
  const Fields f(rs, source, "rope_scaling.");
  LEANLM_ASSIGN_OR_RETURN(const auto rope_type, f.String("rope_type"));
  LEANLM_ASSIGN_OR_RETURN(const auto type, f.String("type"));
  if (rope_type && type && *rope_type != *type) {
    return f.Error("type", "'" + *type + "' contradicts rope_type '" + *rope_type + "'");
  }
  const std::optional<std::string> kind = rope_type ? rope_type : type;
  if (!kind) return f.Error("rope_type", "is missing");
  if (*kind == "default") return Status::Ok();
  if (*kind == "linear") {
    LEANLM_ASSIGN_OR_RETURN(const double factor, f.Positive("factor"));
    c.rope_scaling = RopeScaling::kLinear;
    c.rope_factor = static_cast<float>(factor);
    return Status::Ok();
  }
  if (*kind == "llama3") {
    LEANLM_ASSIGN_OR_RETURN(const double factor, f.Positive("factor"));
    LEANLM_ASSIGN_OR_RETURN(const double low, f.Positive("low_freq_factor"));
    LEANLM_ASSIGN_OR_RETURN(const double high, f.Positive("high_freq_factor"));
    LEANLM_ASSIGN_OR_RETURN(const int64_t orig, f.Size("original_max_position_embeddings"));
    if (!(static_cast<float>(high) > static_cast<float>(low))) {
      return f.Error("high_freq_factor", "must be greater than low_freq_factor (" + std::to_string(low) + ")");
    }
    c.rope_scaling = RopeScaling::kLlama3;
    c.rope_factor = static_cast<float>(factor);
    c.rope_low_freq_factor = static_cast<float>(low);
    c.rope_high_freq_factor = static_cast<float>(high);
    c.rope_orig_ctx = orig;
    return Status::Ok();
  }
  return f.Error("rope_type", "'" + *kind + "' is not supported (linear, llama3)");
}

Status ParseActivation(const Fields& f, const ModelType& type, ModelConfig& c) {
  if (std::string(type.model_type) == "gemma") {
    // transformers' Gemma ignores hidden_act ("gelu" in the published
    // configs) and uses the tanh approximation unless hidden_activation says otherwise.
    LEANLM_ASSIGN_OR_RETURN(const auto act, f.String("hidden_activation"));
    if (act && *act != "gelu_pytorch_tanh") return f.Error("hidden_activation", "'" + *act + "' is not supported");
    c.activation = Activation::kGeluTanh;
    return Status::Ok();
  }
  LEANLM_ASSIGN_OR_RETURN(const auto act, f.String("hidden_act"));
  if (!act || *act == "silu") {
    c.activation = Activation::kSilu;
  } else if (*act == "gelu_pytorch_tanh") {
    c.activation = Activation::kGeluTanh;
  } else {
    return f.Error("hidden_act", "'" + *act + "' is not supported (silu, gelu_pytorch_tanh)");
  }
  return Status::Ok();
}

// Full attention is what leanlm runs; a window shorter than the context
// changes results only past it, so it is worth a warning, not a refusal.
Status WarnAboutSlidingWindow(const Fields& f, const Json& j, const ModelType& type, const ModelConfig& c) {
  if (!f.Has("sliding_window")) return Status::Ok();
  if (std::string(type.model_type) == "qwen2") {
    LEANLM_ASSIGN_OR_RETURN(const bool used, f.Bool("use_sliding_window", false));
    if (!used) return Status::Ok();
  }
  const Json& v = j["sliding_window"];
  if (v.is_number_unsigned() && v.get<uint64_t>() < static_cast<uint64_t>(c.n_ctx_train)) {
    LEANLM_WARN("%s: sliding_window %s is ignored: attention spans the whole context", f.source().c_str(),
                v.dump().c_str());
  }
  return Status::Ok();
}

Status ParseFields(const Json& j, const std::string& source, ModelConfig& c) {
  const Fields f(j, source);
  LEANLM_ASSIGN_OR_RETURN(const auto model_type, f.String("model_type"));
  if (!model_type) return f.Error("model_type", "is missing");
  const ModelType* type = FindModelType(*model_type);
  if (!type) {
    return f.Error("model_type", "'" + *model_type + "' is not supported (llama, mistral, qwen2, phi3, gemma)");
  }
  c.arch = type->arch;
  LEANLM_ASSIGN_OR_RETURN(c.n_vocab, f.Size("vocab_size"));
  LEANLM_ASSIGN_OR_RETURN(c.n_embd, f.Size("hidden_size"));
  LEANLM_ASSIGN_OR_RETURN(c.n_layer, f.Size("num_hidden_layers"));
  LEANLM_ASSIGN_OR_RETURN(c.n_head, f.Size("num_attention_heads"));
  LEANLM_ASSIGN_OR_RETURN(c.n_head_kv, f.Size("num_key_value_heads", c.n_head));
  LEANLM_ASSIGN_OR_RETURN(c.n_ff, f.Size("intermediate_size"));
  if (f.Has("head_dim")) {
    LEANLM_ASSIGN_OR_RETURN(c.head_dim, f.Size("head_dim"));
  } else if (c.n_embd % c.n_head != 0) {
    return f.Error("hidden_size", std::to_string(c.n_embd) + " is not divisible by num_attention_heads " +
                                      std::to_string(c.n_head) + " and head_dim is not given");
  } else {
    c.head_dim = c.n_embd / c.n_head;
  }
  if (c.n_head % c.n_head_kv != 0) {
    return f.Error("num_key_value_heads", std::to_string(c.n_head_kv) + " does not divide num_attention_heads " +
                                              std::to_string(c.n_head));
  }
  if (c.head_dim % 2 != 0) return f.Error("head_dim", "must be even for RoPE, got " + std::to_string(c.head_dim));
  LEANLM_ASSIGN_OR_RETURN(c.n_ctx_train, f.Size("max_position_embeddings", type->default_ctx));
  LEANLM_ASSIGN_OR_RETURN(const double eps, f.Positive("rms_norm_eps", type->default_eps));
  if (static_cast<float>(eps) >= 1) return f.Error("rms_norm_eps", "must be below 1, got " + std::to_string(eps));
  c.norm_eps = static_cast<float>(eps);
  LEANLM_ASSIGN_OR_RETURN(const double theta, f.Positive("rope_theta", 10000.0));
  c.rope_theta = static_cast<float>(theta);
  c.rope_neox = true;  // every HF checkpoint rotates halves
  LEANLM_RETURN_IF_ERROR(ParseRopeScaling(j, source, c));
  if (f.Has("partial_rotary_factor")) {
    LEANLM_ASSIGN_OR_RETURN(const double p, f.Positive("partial_rotary_factor"));
    // A ratio such as 1/3 is not exact in binary; allow the rounding.
    const double dims = std::round(p * static_cast<double>(c.head_dim));
    if (p > 1 || dims < 2 || std::fabs(dims - p * static_cast<double>(c.head_dim)) > 1e-6 ||
        static_cast<int64_t>(dims) % 2 != 0) {
      return f.Error("partial_rotary_factor", "must give an even number of rotated dimensions of head_dim " +
                                                  std::to_string(c.head_dim));
    }
    c.rope_dim = static_cast<int64_t>(dims) == c.head_dim ? 0 : static_cast<int64_t>(dims);
  }
  LEANLM_ASSIGN_OR_RETURN(c.tied_embeddings, f.Bool("tie_word_embeddings", type->default_tied));
  if (type->bias == QkvBias::kFromConfig) {
    LEANLM_ASSIGN_OR_RETURN(c.qkv_bias, f.Bool("attention_bias", false));
  } else {
    c.qkv_bias = type->bias == QkvBias::kAlways;
  }
  LEANLM_RETURN_IF_ERROR(WarnAboutSlidingWindow(f, j, *type, c));
  LEANLM_ASSIGN_OR_RETURN(const bool mlp_bias, f.Bool("mlp_bias", false));
  if (mlp_bias) return f.Error("mlp_bias", "true is not supported");
  LEANLM_RETURN_IF_ERROR(ParseActivation(f, *type, c));
  if (c.arch == "gemma") c.embed_scale = std::sqrt(static_cast<float>(c.n_embd));
  return Status::Ok();
}

// The shortest decimal that reads back as the same float: 1e-05, not
// 9.999999747378752e-06.
double ShortestDouble(float x) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), x);
  *r.ptr = '\0';
  return std::strtod(buf, nullptr);
}

// The first field where two configs differ in a way a model would notice.
std::string FirstDifference(const ModelConfig& a, const ModelConfig& b) {
  if (a.arch != b.arch) return "arch";
  if (a.n_vocab != b.n_vocab) return "n_vocab";
  if (a.n_embd != b.n_embd) return "n_embd";
  if (a.n_layer != b.n_layer) return "n_layer";
  if (a.n_head != b.n_head) return "n_head";
  if (a.n_head_kv != b.n_head_kv) return "n_head_kv";
  if (a.n_ff != b.n_ff) return "n_ff";
  if (a.head_dim != b.head_dim) return "head_dim";
  if (a.n_ctx_train != b.n_ctx_train) return "n_ctx_train";
  if (a.norm_eps != b.norm_eps) return "norm_eps";
  if (a.rope_theta != b.rope_theta) return "rope_theta";
  if (a.rotary_dim() != b.rotary_dim()) return "rope_dim";
  if (a.rope_scaling != b.rope_scaling) return "rope_scaling";
  if (a.rope_scaling != RopeScaling::kNone && a.rope_factor != b.rope_factor) return "rope_factor";
  if (a.rope_scaling == RopeScaling::kLlama3 &&
      (a.rope_low_freq_factor != b.rope_low_freq_factor || a.rope_high_freq_factor != b.rope_high_freq_factor ||
       a.rope_orig_ctx != b.rope_orig_ctx)) {
    return "llama3 rope parameters";
  }
  if (a.tied_embeddings != b.tied_embeddings) return "tied_embeddings";
  if (a.qkv_bias != b.qkv_bias) return "qkv_bias";
  if (a.activation != b.activation) return "activation";
  if (std::fabs(a.embed_scale - b.embed_scale) > 1e-6f * b.embed_scale) return "embed_scale";
  return "";
}

}  // namespace

Result<ModelConfig> ConfigFromHfJson(const std::string& json_text, const std::string& source) {
  LEANLM_ASSIGN_OR_RETURN(const Json j, ParseStrictJson(json_text, source));
  if (!j.is_object()) return Status::Error(source + ": config must be a JSON object");
  ModelConfig c;
  try {
    LEANLM_RETURN_IF_ERROR(ParseFields(j, source, c));
  } catch (const std::exception& e) {  // not expected: every access is type-checked first
    return Status::Error(source + ": " + e.what());
  }
  LEANLM_RETURN_IF_ERROR(c.Validate(source));  // the model's own limits (widths, layer count)
  return c;
}

Result<std::string> ConfigToHfJson(const ModelConfig& c, const HfConfigExtras& extras) {
  const ModelType* type = nullptr;
  for (const ModelType& t : kModelTypes) {
    if (c.arch == t.arch) {
      type = &t;  // the first match: arch llama is written as model_type llama
      break;
    }
  }
  if (!type) return Status::Error("config.json: arch '" + c.arch + "' has no Hugging Face model_type here");
  Json j;
  j["architectures"] = Json::array({type->hf_class});
  j["model_type"] = type->model_type;
  j["vocab_size"] = c.n_vocab;
  j["hidden_size"] = c.n_embd;
  j["num_hidden_layers"] = c.n_layer;
  j["num_attention_heads"] = c.n_head;
  j["num_key_value_heads"] = c.n_head_kv;
  j["intermediate_size"] = c.n_ff;
  j["head_dim"] = c.head_dim;
  j["max_position_embeddings"] = c.n_ctx_train;
  j["rms_norm_eps"] = ShortestDouble(c.norm_eps);
  j["rope_theta"] = ShortestDouble(c.rope_theta);
  j["tie_word_embeddings"] = c.tied_embeddings;
  if (type->bias == QkvBias::kFromConfig) j["attention_bias"] = c.qkv_bias;
  switch (c.rope_scaling) {
    case RopeScaling::kNone:
      j["rope_scaling"] = nullptr;
      break;
    case RopeScaling::kLinear:
      j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", ShortestDouble(c.rope_factor)}};
      break;
    case RopeScaling::kLlama3:
      j["rope_scaling"] = {{"rope_type", "llama3"},
                           {"factor", ShortestDouble(c.rope_factor)},
                           {"low_freq_factor", ShortestDouble(c.rope_low_freq_factor)},
                           {"high_freq_factor", ShortestDouble(c.rope_high_freq_factor)},
                           {"original_max_position_embeddings", c.rope_orig_ctx}};
      break;
  }
  if (c.rope_dim > 0 && c.head_dim > 0 && c.rope_dim != c.head_dim) {
    j["partial_rotary_factor"] = static_cast<double>(c.rope_dim) / static_cast<double>(c.head_dim);
  }
  const char* act = c.activation == Activation::kSilu ? "silu" : "gelu_pytorch_tanh";
  j["hidden_act"] = act;
  if (c.arch == "gemma") j["hidden_activation"] = act;
  if (!extras.torch_dtype.empty()) j["torch_dtype"] = extras.torch_dtype;
  if (extras.bos_token_id >= 0) j["bos_token_id"] = extras.bos_token_id;
  if (extras.eos_token_id >= 0) j["eos_token_id"] = extras.eos_token_id;
  const std::string text = j.dump(2) + "\n";

  // Whatever the HF side cannot express (Qwen2 without biases, Gemma with
  // another embedding scale, ...) shows up as a difference on reading back.
  LEANLM_ASSIGN_OR_RETURN(const ModelConfig back, ConfigFromHfJson(text, "config.json"));
  const std::string diff = FirstDifference(c, back);
  if (!diff.empty()) {
    return Status::Error("config.json: " + diff + " of this " + c.arch + " model cannot be expressed in a " +
                         type->model_type + " config.json");
  }
  return text;
}

}  // namespace leanlm
