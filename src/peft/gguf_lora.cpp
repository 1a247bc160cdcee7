#include "peft/gguf_lora.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <vector>

#include "base/log.h"
#include "io/gguf.h"
#include "io/gguf_model.h"
#include "peft/adapter_shapes.h"

namespace leanlm {
namespace {

std::string Str(int64_t v) { return std::to_string(v); }

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Result<std::vector<float>> ToFloats(const TensorView& v, const std::string& what) {
  const TypeTraits* traits = FindTypeTraits(v.type);
  if (traits == nullptr || traits->to_float == nullptr) {
    return Status::Error(what + ": tensor type " + Str(static_cast<int64_t>(v.type)) + " does not convert to F32");
  }
  std::vector<float> out(static_cast<size_t>(v.elements()));
  for (int64_t r = 0; r < v.rows(); ++r) traits->to_float(v.row(r), out.data() + r * v.cols(), v.cols());
  return out;
}

}  // namespace

bool LooksLikeGguf(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  char magic[4] = {};
  const bool ok = std::fread(magic, 1, 4, f) == 4 && magic[0] == 'G' && magic[1] == 'G' && magic[2] == 'U' &&
                  magic[3] == 'F';
  std::fclose(f);
  return ok;
}

Result<Adapter> LoadGgufLora(const std::string& path, const ModelConfig& config) {
  LEANLM_ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> g, GgufFile::Open(path));
  auto fail = [&](const std::string& msg) { return Status::Error(path + ": " + msg); };
  LEANLM_ASSIGN_OR_RETURN(const std::string type, g->GetString("general.type"));
  if (type != "adapter") return fail("general.type is \"" + type + "\", expected \"adapter\"");
  LEANLM_ASSIGN_OR_RETURN(const std::string adapter_type, g->GetString("adapter.type"));
  if (adapter_type != "lora") return fail("adapter.type is \"" + adapter_type + "\", expected \"lora\"");
  LEANLM_ASSIGN_OR_RETURN(const std::string arch, g->GetString("general.architecture"));
  if (arch != config.arch) {
    return fail("the adapter is for architecture \"" + arch + "\" but the model is \"" + config.arch + "\"");
  }
  LEANLM_ASSIGN_OR_RETURN(const bool file_neox, RopeNeoxForArch(arch));
  double alpha = 0;
  if (g->Find("adapter.lora.alpha") != nullptr) {
    LEANLM_ASSIGN_OR_RETURN(alpha, g->GetFloat("adapter.lora.alpha"));
    if (!std::isfinite(alpha)) return fail("adapter.lora.alpha is not finite");
  }

  std::map<std::string, const GgufTensorInfo*> a, b;
  for (const GgufTensorInfo& t : g->tensors()) {
    std::map<std::string, const GgufTensorInfo*>* dest = EndsWith(t.name, ".lora_a")   ? &a
                                                         : EndsWith(t.name, ".lora_b") ? &b
                                                                                       : nullptr;
    if (dest == nullptr) {
      if (EndsWith(t.name, "_norm.weight")) {
        LEANLM_WARN("%s: skipping %s (norm vectors in LoRA adapters are not applied, as in llama.cpp)", path.c_str(),
                    t.name.c_str());
        continue;
      }
      return fail("tensor " + t.name + " is neither a .lora_a nor a .lora_b");
    }
    const std::string weight = t.name.substr(0, t.name.size() - 7);
    auto found = FindAdaptedLinear(config, weight);
    if (!found.ok()) return found.status().WithContext(path);
    (*dest)[weight] = &t;
  }
  if (a.empty()) return fail("no LoRA tensors");
  LoraAdapter lora;
  for (const auto& [weight, ta] : a) {
    if (!b.count(weight)) return fail(weight + " has lora_a but no lora_b");
    const AdaptedLinear lin = FindAdaptedLinear(config, weight).value();
    const TensorView& va = ta->view;
    const TensorView& vb = b.at(weight)->view;
    const int64_t r = va.ne[1];
    if (va.n_dims != 2 || vb.n_dims != 2 || va.ne[0] != lin.in || vb.ne[1] != lin.out || vb.ne[0] != r) {
      return fail(weight + ": lora_a " + va.shape_string() + " and lora_b " + vb.shape_string() + " do not fit ne {" +
                  Str(lin.in) + ", r} and {r, " + Str(lin.out) + "} (an adapter for another base model?)");
    }
    if (lora.r == 0) lora.r = r;
    if (r != lora.r) return fail(weight + " has rank " + Str(r) + " but other tensors " + Str(lora.r));
    LoraTarget t;
    t.weight = weight;
    t.in = lin.in;
    t.out = lin.out;
    LEANLM_ASSIGN_OR_RETURN(t.a, ToFloats(va, path + ": " + ta->name));
    LEANLM_ASSIGN_OR_RETURN(t.b, ToFloats(vb, path + ": " + b.at(weight)->name));
    lora.targets.push_back(std::move(t));
  }
  for (const auto& [weight, tb] : b) {
    if (!a.count(weight)) return fail(weight + " has lora_b but no lora_a");
  }
  // llama.cpp: scale = alpha ? alpha / r : 1.
  lora.alpha = alpha != 0 ? static_cast<float>(alpha) : static_cast<float>(lora.r);
  Adapter adapter;
  adapter.value = std::move(lora);
  adapter.name = path;
  if (g->Find("general.name") != nullptr) {
    if (auto name = g->GetString("general.name"); name.ok()) adapter.base_model = *name;
  }
  LEANLM_RETURN_IF_ERROR(ValidateAdapter(adapter, config, path));
  LEANLM_RETURN_IF_ERROR(ConvertAdapterLayout(adapter, config, file_neox, config.rope_neox));
  return adapter;
}

Status SaveGgufLora(const Adapter& adapter_in, const ModelConfig& config, const std::string& path) {
  LEANLM_RETURN_IF_ERROR(ValidateAdapter(adapter_in, config, path));
  const LoraAdapter* in = adapter_in.lora();
  if (in == nullptr) return Status::Error(path + ": only LoRA adapters have a llama.cpp GGUF form");
  if (in->dora()) {
    return Status::Error(path + ": llama.cpp's GGUF LoRA has no DoRA magnitudes; merge the adapter into the model "
                         "(leanlm merge) or save it in PEFT format");
  }
  Result<bool> file_neox = RopeNeoxForArch(config.arch);
  if (!file_neox.ok()) return file_neox.status().WithContext(path);
  Adapter adapter = adapter_in;
  LEANLM_RETURN_IF_ERROR(ConvertAdapterLayout(adapter, config, config.rope_neox, *file_neox));
  const LoraAdapter& lora = *adapter.lora();

  GgufWriter w;
  w.Set("general.architecture", GgufValue::Str(config.arch));
  w.Set("general.type", GgufValue::Str("adapter"));
  if (!adapter.base_model.empty()) w.Set("general.name", GgufValue::Str(adapter.base_model));
  w.Set("adapter.type", GgufValue::Str("lora"));
  // llama.cpp scales by alpha / r; rsLoRA's alpha / sqrt(r) is alpha·sqrt(r) / r.
  const float alpha = lora.rslora ? lora.alpha * std::sqrt(static_cast<float>(lora.r)) : lora.alpha;
  w.Set("adapter.lora.alpha", GgufValue::F32(alpha));
  for (const LoraTarget& t : lora.targets) {
    TensorView va, vb;
    va.data = t.a.data();
    va.n_dims = 2;
    va.ne = {t.in, lora.r, 1, 1};
    vb.data = t.b.data();
    vb.n_dims = 2;
    vb.ne = {lora.r, t.out, 1, 1};
    LEANLM_RETURN_IF_ERROR(w.AddTensor(t.weight + ".lora_a", va));
    LEANLM_RETURN_IF_ERROR(w.AddTensor(t.weight + ".lora_b", vb));
  }
  return w.Write(path);
}

}  // namespace leanlm
