#include "quant/recipes.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <strings.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "quant/registry.h"

namespace leanlm {
namespace {

// llama_ftype numbers (include/llama.h).
enum FileType : uint32_t {
  kAllF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ8_0 = 7,
  kQ5_0 = 8,
  kQ5_1 = 9,
  kQ2_K = 10,
  kQ3_K_S = 11,
  kQ3_K_M = 12,
  kQ3_K_L = 13,
  kQ4_K_S = 14,
  kQ4_K_M = 15,
  kQ5_K_S = 16,
  kQ5_K_M = 17,
  kQ6_K = 18,
  kIQ4_NL = 25,
  kBF16 = 32,
  kTQ1_0 = 36,
  kTQ2_0 = 37,
};

// leanlm's recipes have no llama_ftype; their file type is the type id.
constexpr uint32_t Id(DType t) { return static_cast<uint32_t>(t); }

struct RecipeRow {
  const char* name;
  uint32_t file_type;
  DType type;
};

// llama_model_quantize_impl's ftype -> default type switch, and leanlm's own.
constexpr RecipeRow kRecipes[] = {
    {"F32", kAllF32, DType::kF32},
    {"F16", kF16, DType::kF16},
    {"BF16", kBF16, DType::kBF16},
    {"Q4_0", kQ4_0, DType::kQ4_0},
    {"Q4_1", kQ4_1, DType::kQ4_1},
    {"Q5_0", kQ5_0, DType::kQ5_0},
    {"Q5_1", kQ5_1, DType::kQ5_1},
    {"Q8_0", kQ8_0, DType::kQ8_0},
    {"Q2_K", kQ2_K, DType::kQ2_K},
    {"Q3_K_S", kQ3_K_S, DType::kQ3_K},
    {"Q3_K_M", kQ3_K_M, DType::kQ3_K},
    {"Q3_K_L", kQ3_K_L, DType::kQ3_K},
    {"Q4_K_S", kQ4_K_S, DType::kQ4_K},
    {"Q4_K_M", kQ4_K_M, DType::kQ4_K},
    {"Q5_K_S", kQ5_K_S, DType::kQ5_K},
    {"Q5_K_M", kQ5_K_M, DType::kQ5_K},
    {"Q6_K", kQ6_K, DType::kQ6_K},
    {"IQ4_NL", kIQ4_NL, DType::kIQ4_NL},
    {"TQ1_0", kTQ1_0, DType::kTQ1_0},
    {"TQ2_0", kTQ2_0, DType::kTQ2_0},
    {"NF4", Id(kNF4), kNF4},
    {"FP4", Id(kFP4), kFP4},
    {"INT4_G32", Id(kInt4G32), kInt4G32},
    {"INT4_G64", Id(kInt4G64), kInt4G64},
    {"INT4_G128", Id(kInt4G128), kInt4G128},
    {"INT8_G32", Id(kInt8G32), kInt8G32},
    {"INT8_G64", Id(kInt8G64), kInt8G64},
    {"INT8_G128", Id(kInt8G128), kInt8G128},
};

constexpr std::pair<const char*, const char*> kAliases[] = {{"Q3_K", "Q3_K_M"}, {"Q4_K", "Q4_K_M"}, {"Q5_K", "Q5_K_M"}};

bool Contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }
bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
int64_t BlockSize(DType t) { return GetTypeTraits(t).block_size; }

// The quantize predicate of llama_model_quantize_impl.
bool IsQuantizable(const TensorDesc& t, bool keep_output) {
  const std::string& n = t.name;
  if (!EndsWith(n, "weight") || t.n_dims < 2 || Contains(n, "_norm.weight")) return false;
  if (keep_output && n == "output.weight") return false;
  for (const char* part :
       {"ffn_gate_inp.weight", "ssm_conv1d.weight", "time_mix_first.weight", "time_mix_w1.weight", "time_mix_w2.weight",
        "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight", "attn_rel_b.weight"}) {
    if (Contains(n, part)) return false;
  }
  return n != "position_embd.weight" && n != "token_types.weight";
}

// llama.cpp's table for rows that do not fit the type's blocks; where it has
// no entry (it throws) leanlm continues as it does for K-quants: F16. For
// leanlm's formats: the 32-wide member of the family (IQ4_NL for the 4-bit
// codebooks), then F16.
DType FallbackType(DType t, int64_t ne0) {
  if (ne0 % BlockSize(t) == 0) return t;
  DType f = DType::kF16;
  switch (t) {
    case DType::kTQ1_0:
    case DType::kTQ2_0:
      f = DType::kQ4_0;
      break;
    case DType::kQ2_K:
    case DType::kQ3_K:
      f = DType::kIQ4_NL;
      break;
    case DType::kQ4_K:
      f = DType::kQ5_0;
      break;
    case DType::kQ5_K:
      f = DType::kQ5_1;
      break;
    case DType::kQ6_K:
      f = DType::kQ8_0;
      break;
    default:
      if (t == kNF4 || t == kFP4) f = DType::kIQ4_NL;
      if (t == kInt4G64 || t == kInt4G128) f = kInt4G32;
      if (t == kInt8G64 || t == kInt8G128) f = kInt8G32;
      break;
  }
  return ne0 % BlockSize(f) == 0 ? f : DType::kF16;
}

// The counters llama.cpp keeps while it walks the tensors in order.
struct RuleState {
  uint32_t ftype = 0;
  bool has_output = false;
  bool is_70b = false;  // llama.cpp's LLM_TYPE_70B: 8 heads share each attn_v row
  int64_t n_gqa = 0;
  int64_t n_attention_wv = 0, i_attention_wv = 0;
  int64_t n_ffn_down = 0, i_ffn_down = 0;
};

bool UseMoreBits(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// llama_tensor_get_type for the recipes above, before the row-size fallback.
DType RuleType(RuleState& s, DType type, const TensorDesc& t) {
  const std::string& name = t.name;
  const uint32_t ft = s.ftype;
  if (name == "output.weight" || (!s.has_output && name == "token_embd.weight")) {
    if (t.ne[0] % BlockSize(type) != 0) return DType::kQ8_0;
    return type == DType::kQ8_0 ? type : DType::kQ6_K;
  }
  if (name == "token_embd.weight") return ft == kTQ1_0 || ft == kTQ2_0 ? DType::kQ4_K : type;
  if (Contains(name, "attn_v.weight")) {
    const int64_t i = s.i_attention_wv++;
    if (ft == kQ2_K) {
      type = s.n_gqa >= 4 ? DType::kQ4_K : DType::kQ3_K;
    } else if (ft == kQ3_K_M) {
      type = i < 2 ? DType::kQ5_K : DType::kQ4_K;
    } else if (ft == kQ3_K_L) {
      type = DType::kQ5_K;
    } else if (ft == kIQ4_NL && s.n_gqa >= 4) {
      type = DType::kQ5_K;
    } else if ((ft == kQ4_K_M || ft == kQ5_K_M) && UseMoreBits(i, s.n_attention_wv)) {
      type = DType::kQ6_K;
    } else if (ft == kQ4_K_S && i < 4) {
      type = DType::kQ5_K;
    }
    if (s.is_70b && (type == DType::kQ3_K || type == DType::kQ4_K)) type = DType::kQ5_K;
    return type;
  }
  if (Contains(name, "attn_k.weight") || Contains(name, "attn_q.weight")) return type;
  if (Contains(name, "ffn_down")) {
    const int64_t i = s.i_ffn_down++, n = s.n_ffn_down;
    if (ft == kQ2_K) return DType::kQ3_K;
    if (ft == kQ3_K_M) return i < n / 16 ? DType::kQ5_K : DType::kQ4_K;
    if (ft == kQ3_K_L) return DType::kQ5_K;
    if (ft == kQ4_K_M) return UseMoreBits(i, n) ? DType::kQ6_K : type;
    if (i < n / 8 && ft == kIQ4_NL) return DType::kQ5_K;
    if (ft == kQ5_K_M && UseMoreBits(i, n)) return DType::kQ6_K;
    if (ft == kQ4_K_S && i < n / 8) return DType::kQ5_K;
    return type;
  }
  if (Contains(name, "attn_output.weight")) {
    if (ft == kQ2_K) return DType::kQ3_K;
    if (ft == kQ3_K_M) return DType::kQ4_K;
    if (ft == kQ3_K_L) return DType::kQ5_K;
    return type;
  }
  if (Contains(name, "attn_qkv.weight")) {
    if (ft == kQ3_K_M || ft == kQ3_K_L) return DType::kQ4_K;
    if (ft == kQ4_K_M) return DType::kQ5_K;
    if (ft == kQ5_K_M) return DType::kQ6_K;
  }
  return type;
}

// llama_model_loader's weights_map order: layer number (-1 outside blocks), then name.
std::pair<int64_t, std::string> OrderKey(const std::string& name) {
  int64_t layer = -1;
  if (name.rfind("blk.", 0) == 0) {
    int64_t v = 0;
    size_t i = 4;
    for (; i < name.size() && i < 4 + 15 && name[i] >= '0' && name[i] <= '9'; ++i) v = v * 10 + (name[i] - '0');
    if (i > 4) layer = v;
  }
  return {layer, name};
}

bool CanProduce(DType t) {
  const TypeTraits* traits = FindTypeTraits(t);
  return traits && traits->from_float && traits->to_float;
}

}  // namespace

Result<Recipe> FindRecipe(const std::string& name) {
  std::string wanted = name;
  for (const auto& [alias, target] : kAliases) {
    if (strcasecmp(alias, name.c_str()) == 0) wanted = target;
  }
  for (const RecipeRow& r : kRecipes) {
    if (strcasecmp(r.name, wanted.c_str()) != 0) continue;
    Recipe recipe{r.name, r.file_type, r.type, false};
    recipe.llama_rules = GetTypeTraits(r.type).is_quantized && Id(r.type) < Id(kNF4);  // a ggml block type
    return recipe;
  }
  std::string known;
  for (const std::string& n : RecipeNames()) known += (known.empty() ? "" : ", ") + n;
  return Status::Error("unknown quantization type '" + name + "' (known: " + known + ")");
}

std::vector<std::string> RecipeNames() {
  std::vector<std::string> names;
  for (const RecipeRow& r : kRecipes) names.emplace_back(r.name);
  return names;
}

struct CompiledPattern {
  pcre2_code* code = nullptr;
  ~CompiledPattern() { pcre2_code_free(code); }
};

Result<TensorTypeOverride> ParseTensorTypeOverride(const std::string& spec) {
  const size_t eq = spec.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
    return Status::Error("--tensor-type '" + spec + "': expected REGEX=TYPE");
  }
  TensorTypeOverride o;
  o.pattern = spec.substr(0, eq);
  Result<DType> type = ParseTypeName(spec.substr(eq + 1));
  if (!type.ok()) return type.status().WithContext("--tensor-type '" + spec + "'");
  if (!CanProduce(*type)) {
    return Status::Error("--tensor-type '" + spec + "': leanlm cannot quantize to " + TypeName(*type));
  }
  o.type = *type;
  auto compiled = std::make_shared<CompiledPattern>();
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  compiled->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(o.pattern.data()), o.pattern.size(), PCRE2_UTF, &error,
                                 &error_offset, nullptr);
  if (compiled->code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    return Status::Error("--tensor-type '" + spec + "': the regular expression '" + o.pattern + "' does not compile: " +
                         reinterpret_cast<const char*>(message) + " at offset " + std::to_string(error_offset));
  }
  o.regex = std::move(compiled);
  return o;
}

Result<bool> OverrideMatches(const TensorTypeOverride& o, const std::string& name) {
  constexpr uint32_t kMatchLimit = 1000000;
  std::unique_ptr<pcre2_match_context, void (*)(pcre2_match_context*)> context(pcre2_match_context_create(nullptr),
                                                                               pcre2_match_context_free);
  std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> match(
      pcre2_match_data_create_from_pattern(o.regex->code, nullptr), pcre2_match_data_free);
  if (!context || !match) return Status::Error("out of memory matching --tensor-type '" + o.pattern + "'");
  pcre2_set_match_limit(context.get(), kMatchLimit);
  const int rc = pcre2_match(o.regex->code, reinterpret_cast<PCRE2_SPTR>(name.data()), name.size(), 0, 0, match.get(),
                             context.get());
  if (rc >= 0) return true;
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  PCRE2_UCHAR message[256];
  pcre2_get_error_message(rc, message, sizeof(message));
  return Status::Error("--tensor-type '" + o.pattern + "' on tensor '" + name +
                       "': " + reinterpret_cast<const char*>(message));
}

Result<std::vector<TensorPlan>> PlanQuantization(const std::vector<TensorDesc>& tensors, const ModelShape& shape,
                                                 const PlanOptions& options) {
  const Recipe& recipe = options.recipe;
  if (!CanProduce(recipe.default_type)) {
    return Status::Error(std::string("leanlm cannot quantize to ") + TypeName(recipe.default_type));
  }
  std::vector<TensorPlan> plan;
  plan.reserve(tensors.size());
  for (const TensorDesc& t : tensors) plan.push_back({t, t.type, t.type, false});
  std::stable_sort(plan.begin(), plan.end(),
                   [](const TensorPlan& a, const TensorPlan& b) { return OrderKey(a.in.name) < OrderKey(b.in.name); });

  RuleState s;
  s.ftype = recipe.file_type;
  s.n_gqa = shape.n_head_kv > 0 ? shape.n_head / shape.n_head_kv : 0;
  s.is_70b =
      shape.n_layer == 80 && ((shape.arch == "llama" && shape.n_head != shape.n_head_kv) || shape.arch == "qwen2");
  s.n_ffn_down = shape.n_layer;
  for (const TensorPlan& p : plan) {
    const std::string& n = p.in.name;
    if (Contains(n, "attn_v.weight") || Contains(n, "attn_qkv.weight") || Contains(n, "attn_kv_b.weight")) {
      ++s.n_attention_wv;
    } else if (n == "output.weight") {
      s.has_output = true;
    }
  }

  for (TensorPlan& p : plan) {
    if (!IsQuantizable(p.in, options.keep_output)) continue;
    DType type = recipe.default_type;
    if (recipe.llama_rules) type = RuleType(s, type, p.in);
    for (const TensorTypeOverride& o : options.overrides) {
      LEANLM_ASSIGN_OR_RETURN(const bool match, OverrideMatches(o, p.in.name));
      if (match) {
        type = o.type;
        break;
      }
    }
    p.wanted = type;
    p.out = FallbackType(type, p.in.ne[0]);
    p.convert = p.out != p.in.type;
    if (p.convert) {
      const TypeTraits* from = FindTypeTraits(p.in.type);
      if (!from || !from->to_float) {
        return Status::Error("tensor '" + p.in.name + "' has type " + TypeName(p.in.type) +
                             ", which leanlm cannot convert to F32");
      }
    }
  }
  return plan;
}

std::vector<std::string> DescribeFallbacks(const std::vector<TensorPlan>& plan) {
  std::map<std::tuple<uint32_t, uint32_t, int64_t>, int> cases;
  for (const TensorPlan& p : plan) {
    if (p.fallback()) ++cases[{static_cast<uint32_t>(p.wanted), static_cast<uint32_t>(p.out), p.in.ne[0]}];
  }
  std::vector<std::string> lines;
  for (const auto& [key, count] : cases) {
    const auto [wanted, out, ne0] = key;
    const DType w = static_cast<DType>(wanted), o = static_cast<DType>(out);
    lines.push_back(std::to_string(count) + (count == 1 ? " tensor" : " tensors") + " with rows of " +
                    std::to_string(ne0) + " (not a multiple of " + std::to_string(BlockSize(w)) + " for " +
                    TypeName(w) + "): using " + TypeName(o));
  }
  return lines;
}

}  // namespace leanlm
