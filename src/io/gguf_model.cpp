#include "io/gguf_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace leanlm {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Upper bounds that keep products such as n_head * head_dim far from
// overflow while admitting every real model.
constexpr int64_t kMaxWidth = int64_t{1} << 20;
constexpr int64_t kMaxLayers = int64_t{1} << 14;
constexpr int64_t kMaxVocab = int64_t{1} << 24;
constexpr int64_t kMaxContext = int64_t{1} << 32;

class KeyReader {
 public:
  KeyReader(const GgufFile& g, const std::string& arch) : g_(g), arch_(arch) {}

  std::string Key(const std::string& suffix) const { return arch_ + "." + suffix; }

  // A positive count in [1, max]. llama.cpp also accepts a per-layer array
  // (get_key_or_arr); leanlm's model has one value, so all must be equal.
  Result<int64_t> Count(const std::string& suffix, int64_t max, bool required, int64_t fallback) const {
    const std::string key = Key(suffix);
    const GgufValue* v = g_.Find(key);
    if (!v) {
      if (required) return Status::Error(g_.name() + ": key '" + key + "' is missing");
      return fallback;
    }
    int64_t n = 0;
    if (v->type == GgufType::kArray && v->elem_type != GgufType::kArray && !v->array.empty() &&
        v->array[0].is_integer()) {
      n = v->array[0].as_int();
      for (const GgufValue& e : v->array) {
        if (e.as_int() != n) {
          return Status::Error(g_.name() + ": key '" + key + "' differs between layers, which is not supported");
        }
      }
    } else {
      LEANLM_ASSIGN_OR_RETURN(n, g_.GetInt(key));
    }
    if (n < 1 || n > max) {
      return Status::Error(g_.name() + ": key '" + key + "' is " + std::to_string(n) + " (expected 1.." +
                           std::to_string(max) + ")");
    }
    return n;
  }

  // A finite positive float.
  Result<float> Positive(const std::string& suffix, bool required, float fallback) const {
    const std::string key = Key(suffix);
    if (!g_.Find(key)) {
      if (required) return Status::Error(g_.name() + ": key '" + key + "' is missing");
      return fallback;
    }
    LEANLM_ASSIGN_OR_RETURN(double x, g_.GetFloat(key));
    if (!(x > 0) || !(x <= std::numeric_limits<float>::max())) {
      return Status::Error(g_.name() + ": key '" + key + "' is " + std::to_string(x) + " (expected > 0)");
    }
    return static_cast<float>(x);
  }

 private:
  const GgufFile& g_;
  const std::string& arch_;
};

bool Close(double a, double b) { return std::fabs(a - b) <= 1e-4 * std::max(1.0, std::fabs(b)); }

// Recovers factor / low / high_freq_factor from a rope_freqs tensor. The
// factors only depend on the two wavelength thresholds orig/high and
// orig/low, so orig_ctx (from the config) is kept and the thresholds are
// fitted; the result is accepted only if it reproduces every factor.
Status FitLlama3(const std::vector<float>& f, ModelConfig& c, const std::string& source) {
  const Status bad = Status::Error(source + ": " + kRopeFreqsTensor + " does not hold Llama-3 RoPE factors");
  const size_t n = f.size();
  const int64_t dim = c.rotary_dim();
  double factor = 1;
  for (float x : f) {
    if (!(x >= 1) || !std::isfinite(x)) return bad;
    factor = std::max(factor, static_cast<double>(x));
  }
  auto wavelen = [&](size_t i) { return 2 * kPi * std::pow(static_cast<double>(c.rope_theta), 2.0 * i / dim); };
  size_t n_high = 0;  // leading factors == 1 (short wavelengths, unscaled)
  while (n_high < n && Close(f[n_high], 1)) ++n_high;
  size_t first_low = n;  // trailing factors == factor (long wavelengths)
  while (first_low > n_high && Close(f[first_low - 1], factor)) --first_low;
  if (n_high == n || factor == 1) {
    c.rope_scaling = RopeScaling::kNone;
    return Status::Ok();
  }
  const double orig = static_cast<double>(c.rope_orig_ctx);
  // s = (orig / wavelen - low) / (high - low) = a / wavelen + b in the blend.
  auto smooth = [&](size_t i) { return (1.0 / f[i] - 1.0 / factor) / (1.0 - 1.0 / factor); };
  double low = 0, high = 0;
  const size_t n_mid = first_low - n_high;
  if (n_mid >= 2) {
    const size_t i0 = n_high, i1 = first_low - 1;
    const double x0 = 1 / wavelen(i0), x1 = 1 / wavelen(i1);
    const double a = (smooth(i1) - smooth(i0)) / (x1 - x0);
    const double b = smooth(i0) - a * x0;
    if (!(a > 0)) return bad;
    low = -b * orig / a;
    high = low + orig / a;
  } else if (n_mid == 1) {
    // One blended frequency m pins low + s (high - low) = orig / w_m; pick
    // high mid-way in the range that keeps the neighbours on their sides.
    const double x = orig / wavelen(n_high), s = smooth(n_high);
    if (!(s > 0 && s < 1)) return bad;
    double upper = x / s;                                                  // keeps low > 0
    if (n_high > 0) upper = std::min(upper, orig / wavelen(n_high - 1));   // previous stays unscaled
    if (first_low < n) upper = std::min(upper, (x - (1 - s) * orig / wavelen(first_low)) / s);  // next stays scaled
    high = (x + upper) / 2;
    low = (x - s * high) / (1 - s);
  } else {
    // No blended frequency: both thresholds lie in the gap between the last
    // unscaled and the first scaled wavelength (a third apart, in log scale).
    const double lo = n_high == 0 ? wavelen(0) / 4 : wavelen(n_high - 1);
    const double hi = wavelen(n_high);
    high = orig / std::exp(std::log(lo) + (std::log(hi) - std::log(lo)) / 3);
    low = orig / std::exp(std::log(lo) + 2 * (std::log(hi) - std::log(lo)) / 3);
  }
  if (!(low > 0) || !(high > low) || !(high < 1e30)) return bad;
  c.rope_scaling = RopeScaling::kLlama3;
  c.rope_factor = static_cast<float>(factor);
  c.rope_low_freq_factor = static_cast<float>(low);
  c.rope_high_freq_factor = static_cast<float>(high);
  const std::vector<float> check = Llama3RopeFactors(c);
  for (size_t i = 0; i < n; ++i) {
    if (!Close(check[i], f[i])) return bad;
  }
  return Status::Ok();
}

Status ReadRopeScaling(const GgufFile& g, const KeyReader& keys, ModelConfig& c) {
  const std::string type_key = keys.Key("rope.scaling.type");
  std::string type = "linear";  // llama.cpp's default when the key is absent
  if (g.Find(type_key)) {
    LEANLM_ASSIGN_OR_RETURN(type, g.GetString(type_key));
  }
  float factor = 0;
  for (const char* suffix : {"rope.scaling.factor", "rope.scale_linear"}) {
    if (g.Find(keys.Key(suffix))) {
      LEANLM_ASSIGN_OR_RETURN(factor, keys.Positive(suffix, true, 1));
      break;
    }
  }
  LEANLM_ASSIGN_OR_RETURN(c.rope_orig_ctx, keys.Count("rope.scaling.original_context_length", kMaxContext, false,
                                                      c.rope_orig_ctx));
  const GgufTensorInfo* freqs = g.FindTensor(kRopeFreqsTensor);
  if (type == "none" || (type == "linear" && (factor == 0 || factor == 1))) {
    c.rope_scaling = RopeScaling::kNone;
  } else if (type == "linear") {
    c.rope_scaling = RopeScaling::kLinear;
    c.rope_factor = factor;
  } else {
    return Status::Error(g.name() + ": RoPE scaling type '" + type + "' (key '" + type_key +
                         "') is not supported (expected none or linear)");
  }
  if (g.FindTensor("rope_factors_long.weight") || g.FindTensor("rope_factors_short.weight")) {
    return Status::Error(g.name() + ": LongRoPE factors (rope_factors_long/short) are not supported");
  }
  if (!freqs) return Status::Ok();
  if (c.rope_scaling != RopeScaling::kNone) {
    return Status::Error(g.name() + ": both " + kRopeFreqsTensor + " and linear RoPE scaling are set");
  }
  const TensorView& v = freqs->view;
  if (v.type != DType::kF32 || v.n_dims != 1 || v.ne[0] != c.rotary_dim() / 2) {
    return Status::Error(g.name() + ": " + kRopeFreqsTensor + " is " + TypeName(v.type) + " " + v.shape_string() +
                         " (expected f32 [" + std::to_string(c.rotary_dim() / 2) + "])");
  }
  std::vector<float> f(static_cast<size_t>(v.ne[0]));
  std::memcpy(f.data(), v.data, f.size() * sizeof(float));
  return FitLlama3(f, c, g.name());
}

}  // namespace

Result<bool> RopeNeoxForArch(const std::string& arch) {
  if (arch == "llama" || arch == "mistral") return false;
  if (arch == "qwen2" || arch == "phi3" || arch == "gemma") return true;
  return Status::Error("architecture '" + arch + "' is not supported (expected llama, mistral, qwen2, phi3 or gemma)");
}

Result<ModelConfig> ConfigFromGguf(const GgufFile& g) {
  ModelConfig c;
  LEANLM_ASSIGN_OR_RETURN(c.arch, g.GetString("general.architecture"));
  Result<bool> neox = RopeNeoxForArch(c.arch);
  if (!neox.ok()) return neox.status().WithContext(g.name());
  c.rope_neox = neox.value();
  const KeyReader keys(g, c.arch);

  LEANLM_ASSIGN_OR_RETURN(c.n_ctx_train, keys.Count("context_length", kMaxContext, true, 0));
  LEANLM_ASSIGN_OR_RETURN(c.n_embd, keys.Count("embedding_length", kMaxWidth, true, 0));
  LEANLM_ASSIGN_OR_RETURN(c.n_layer, keys.Count("block_count", kMaxLayers, true, 0));
  LEANLM_ASSIGN_OR_RETURN(c.n_ff, keys.Count("feed_forward_length", kMaxWidth, true, 0));
  LEANLM_ASSIGN_OR_RETURN(c.n_head, keys.Count("attention.head_count", kMaxWidth, true, 0));
  LEANLM_ASSIGN_OR_RETURN(c.n_head_kv, keys.Count("attention.head_count_kv", c.n_head, false, c.n_head));
  if (c.n_head % c.n_head_kv != 0) {
    return Status::Error(g.name() + ": head_count " + std::to_string(c.n_head) + " is not a multiple of head_count_kv " +
                         std::to_string(c.n_head_kv));
  }
  const int64_t default_head_dim = c.n_embd / c.n_head;
  LEANLM_ASSIGN_OR_RETURN(c.head_dim, keys.Count("attention.key_length", kMaxWidth, false, default_head_dim));
  if (c.head_dim < 1) return Status::Error(g.name() + ": embedding_length is smaller than head_count");
  LEANLM_ASSIGN_OR_RETURN(int64_t v_dim, keys.Count("attention.value_length", kMaxWidth, false, c.head_dim));
  if (v_dim != c.head_dim) {
    return Status::Error(g.name() + ": attention.value_length " + std::to_string(v_dim) +
                         " differs from key_length " + std::to_string(c.head_dim) + ", which is not supported");
  }
  LEANLM_ASSIGN_OR_RETURN(int64_t n_rot, keys.Count("rope.dimension_count", c.head_dim, false, c.head_dim));
  if (n_rot % 2 != 0) return Status::Error(g.name() + ": rope.dimension_count " + std::to_string(n_rot) + " is odd");
  c.rope_dim = n_rot == c.head_dim ? 0 : n_rot;
  LEANLM_ASSIGN_OR_RETURN(c.norm_eps, keys.Positive("attention.layer_norm_rms_epsilon", true, 0));
  LEANLM_ASSIGN_OR_RETURN(c.rope_theta, keys.Positive("rope.freq_base", false, 10000.0f));
  LEANLM_RETURN_IF_ERROR(ReadRopeScaling(g, keys, c));

  // n_vocab: the embedding's rows are what the model computes with; the
  // token list and <arch>.vocab_size must agree with them.
  const GgufTensorInfo* embd = g.FindTensor("token_embd.weight");
  const GgufValue* tokens = g.Find("tokenizer.ggml.tokens");
  if (tokens && tokens->type != GgufType::kArray) {
    return Status::Error(g.name() + ": key 'tokenizer.ggml.tokens' has type " + GgufTypeName(tokens->type) +
                         " (expected array of string)");
  }
  const int64_t n_tokens = tokens ? static_cast<int64_t>(tokens->array.size()) : 0;
  LEANLM_ASSIGN_OR_RETURN(int64_t vocab_key, keys.Count("vocab_size", kMaxVocab, false, 0));
  if (embd) {
    if (embd->view.n_dims != 2) {
      return Status::Error(g.name() + ": token_embd.weight is " + embd->view.shape_string() + " (expected 2-D)");
    }
    c.n_vocab = embd->view.ne[1];
  } else {
    c.n_vocab = n_tokens > 0 ? n_tokens : vocab_key;
  }
  if (c.n_vocab < 1 || c.n_vocab > kMaxVocab) {
    return Status::Error(g.name() + ": vocabulary size " + std::to_string(c.n_vocab) + " (expected 1.." +
                         std::to_string(kMaxVocab) + ")");
  }
  if (n_tokens > 0 && n_tokens != c.n_vocab) {
    return Status::Error(g.name() + ": tokenizer.ggml.tokens has " + std::to_string(n_tokens) +
                         " tokens but the model has " + std::to_string(c.n_vocab));
  }
  if (vocab_key > 0 && vocab_key != c.n_vocab) {
    return Status::Error(g.name() + ": key '" + keys.Key("vocab_size") + "' is " + std::to_string(vocab_key) +
                         " but the model has " + std::to_string(c.n_vocab) + " tokens");
  }

  c.tied_embeddings = g.FindTensor("output.weight") == nullptr;
  c.qkv_bias = g.FindTensor("blk.0.attn_q.bias") != nullptr;
  if (c.arch == "gemma") {
    c.activation = Activation::kGeluTanh;
    c.embed_scale = std::sqrt(static_cast<float>(c.n_embd));
  }
  LEANLM_RETURN_IF_ERROR(c.Validate(g.name()));
  return c;
}

void ConfigToGguf(const ModelConfig& c, GgufWriter& w) {
  auto u32 = [](int64_t v) { return GgufValue::U32(static_cast<uint32_t>(v)); };
  const std::string& a = c.arch;
  w.Set("general.architecture", GgufValue::Str(a));
  w.Set(a + ".vocab_size", u32(c.n_vocab));
  w.Set(a + ".context_length", u32(c.n_ctx_train));
  w.Set(a + ".embedding_length", u32(c.n_embd));
  w.Set(a + ".block_count", u32(c.n_layer));
  w.Set(a + ".feed_forward_length", u32(c.n_ff));
  w.Set(a + ".attention.head_count", u32(c.n_head));
  w.Set(a + ".attention.head_count_kv", u32(c.n_head_kv));
  w.Set(a + ".attention.key_length", u32(c.head_dim));
  w.Set(a + ".attention.value_length", u32(c.head_dim));
  w.Set(a + ".attention.layer_norm_rms_epsilon", GgufValue::F32(c.norm_eps));
  w.Set(a + ".rope.freq_base", GgufValue::F32(c.rope_theta));
  w.Set(a + ".rope.dimension_count", u32(c.rotary_dim()));
  switch (c.rope_scaling) {
    case RopeScaling::kNone:
      break;
    case RopeScaling::kLinear:
      w.Set(a + ".rope.scaling.type", GgufValue::Str("linear"));
      w.Set(a + ".rope.scaling.factor", GgufValue::F32(c.rope_factor));
      break;
    case RopeScaling::kLlama3:
      // llama.cpp reads the factors from rope_freqs.weight; this key only
      // matters for YaRN there, and tells leanlm the original context.
      w.Set(a + ".rope.scaling.original_context_length", u32(c.rope_orig_ctx));
      break;
  }
}

std::vector<float> Llama3RopeFactors(const ModelConfig& c) {
  const int64_t dim = c.rotary_dim();
  const double orig = static_cast<double>(c.rope_orig_ctx);
  const double low_wavelen = orig / c.rope_low_freq_factor;
  const double high_wavelen = orig / c.rope_high_freq_factor;
  std::vector<float> out(static_cast<size_t>(dim / 2));
  for (int64_t i = 0; i < dim / 2; ++i) {
    const double freq = 1.0 / std::pow(static_cast<double>(c.rope_theta), 2.0 * i / dim);
    const double wavelen = 2 * kPi / freq;
    double factor;
    if (wavelen < high_wavelen) {
      factor = 1;
    } else if (wavelen > low_wavelen) {
      factor = c.rope_factor;
    } else {
      const double smooth = (orig / wavelen - c.rope_low_freq_factor) /
                            (c.rope_high_freq_factor - c.rope_low_freq_factor);
      factor = 1 / ((1 - smooth) / c.rope_factor + smooth);
    }
    out[static_cast<size_t>(i)] = static_cast<float>(factor);
  }
  return out;
}

}  // namespace leanlm
