// Loading an HF directory's config.json and safetensors weights (one file or
// shards listed in model.safetensors.index.json) as llama.cpp-named views.
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/log.h"
#include "io/hf_dir.h"
#include "io/hf_names.h"
#include "io/safetensors.h"
#include "io/strict_json.h"

namespace leanlm {
namespace {

bool IsFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Shard names come from an untrusted index: plain file names in the
// directory only, never a path.
bool IsPlainShardName(const std::string& name) {
  const std::string suffix = ".safetensors";
  if (name.size() <= suffix.size() || name.size() > 255 || name[0] == '.') return false;
  if (name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
  });
}

// model.safetensors.index.json: {"metadata": {...}, "weight_map": {tensor: shard}}.
Result<std::map<std::string, std::string>> ReadIndex(const std::string& path) {
  LEANLM_ASSIGN_OR_RETURN(const std::string text, ReadTextFile(path, size_t{64} << 20));
  LEANLM_ASSIGN_OR_RETURN(const nlohmann::json j, ParseStrictJson(text, path));
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
    return Status::Error(path + ": key 'weight_map' must be an object of tensor name -> shard file");
  }
  std::map<std::string, std::string> weight_map;
  for (const auto& [name, shard] : j["weight_map"].items()) {
    if (!shard.is_string() || !IsPlainShardName(shard.get<std::string>())) {
      return Status::Error(path + ": key 'weight_map." + name + "' must name a .safetensors file in the directory, got " +
                           shard.dump());
    }
    weight_map[name] = shard.get<std::string>();
  }
  if (weight_map.empty()) return Status::Error(path + ": key 'weight_map' is empty");
  return weight_map;
}

// Gemma's RMSNorm multiplies by (1 + w); llama.cpp's converter stores w + 1
// so every model uses plain RMSNorm. The norms are tiny, so copying them
// keeps the rest of leanlm free of a Gemma special case.
Status BakeGemmaNormOffsets(ModelSource& src) {
  for (auto& [name, view] : src.tensors) {
    const bool is_norm = name.size() > 12 && name.compare(name.size() - 12, 12, "_norm.weight") == 0;
    if (!is_norm) continue;
    const TypeTraits* traits = FindTypeTraits(view.type);
    if (view.n_dims != 1 || !traits || !traits->to_float || traits->block_size != 1) {
      return Status::Error(src.path + ": Gemma norm " + name + " must be a 1-D float tensor, got " +
                           TypeName(view.type) + " " + view.shape_string());
    }
    auto values = std::make_shared<std::vector<float>>(view.ne[0]);
    traits->to_float(view.data, values->data(), view.ne[0]);
    for (float& v : *values) v += 1.0f;
    view.data = values->data();
    view.type = DType::kF32;
    src.keep_alive.push_back(std::move(values));
  }
  return Status::Ok();
}

}  // namespace

Result<ModelSource> LoadHfModelFiles(const std::string& dir, const LoadOptions& options) {
  const std::string config_path = dir + "/config.json";
  LEANLM_ASSIGN_OR_RETURN(const std::string config_text, ReadTextFile(config_path, size_t{16} << 20));
  ModelSource src;
  src.format = ModelFormat::kHfDir;
  src.path = dir;
  LEANLM_ASSIGN_OR_RETURN(src.config, ConfigFromHfJson(config_text, config_path));

  const std::string index_path = dir + "/model.safetensors.index.json";
  std::map<std::string, std::string> weight_map;  // empty: one model.safetensors holds everything
  std::vector<std::string> shards;
  if (IsFile(index_path)) {
    LEANLM_ASSIGN_OR_RETURN(weight_map, ReadIndex(index_path));
    std::set<std::string> unique;
    for (const auto& [name, shard] : weight_map) unique.insert(shard);
    shards.assign(unique.begin(), unique.end());
  } else if (IsFile(dir + "/model.safetensors")) {
    shards.push_back("model.safetensors");
  } else {
    std::string message = dir + ": no model.safetensors or model.safetensors.index.json";
    if (IsFile(dir + "/pytorch_model.bin")) message += " (pytorch_model.bin checkpoints are not read; save as safetensors)";
    return Status::Error(message);
  }

  std::map<std::string, std::string> hf_name_of;  // gguf name -> HF name, for duplicate messages
  std::vector<std::string> unknown;
  std::set<std::string> listed_found;  // index entries seen in their shard
  for (const std::string& shard : shards) {
    LEANLM_ASSIGN_OR_RETURN(const SafetensorsFile file, OpenSafetensors(dir + "/" + shard, options.mode));
    src.keep_alive.push_back(file.keep_alive());
    for (const SafetensorsTensor& t : file.tensors()) {
      if (!weight_map.empty()) {
        const auto it = weight_map.find(t.name);
        if (it == weight_map.end() || it->second != shard) {
          LEANLM_WARN("%s: tensor %s is not listed for this shard in %s; skipped", file.source().c_str(),
                      QuoteForMessage(t.name).c_str(), index_path.c_str());
          continue;
        }
        listed_found.insert(t.name);
      }
      const HfNameMapping mapped = HfToGgufName(t.name);
      if (mapped.kind == HfNameKind::kIgnored) continue;
      if (mapped.kind == HfNameKind::kUnknown) {
        unknown.push_back(t.name);
        continue;
      }
      const auto [it, inserted] = hf_name_of.emplace(mapped.gguf_name, t.name);
      if (!inserted) {
        return Status::Error(file.source() + ": tensor " + QuoteForMessage(t.name) + " and " +
                             QuoteForMessage(it->second) + " both map to " + mapped.gguf_name);
      }
      LEANLM_ASSIGN_OR_RETURN(src.tensors[mapped.gguf_name], t.View(file.source()));
    }
  }
  for (const auto& [name, shard] : weight_map) {
    if (!listed_found.count(name)) {
      return Status::Error(index_path + ": tensor " + QuoteForMessage(name) + " is listed in " + shard +
                           ", which does not hold it");
    }
  }
  if (!unknown.empty()) {
    LEANLM_WARN("%s: skipped %zu tensors with no llama.cpp name (first: %s)", dir.c_str(), unknown.size(),
                QuoteForMessage(unknown.front()).c_str());
  }

  if (src.config.arch == "gemma") LEANLM_RETURN_IF_ERROR(BakeGemmaNormOffsets(src));
  if (src.config.tied_embeddings) {
    src.tensors.erase("output.weight");  // transformers ties lm_head to the embedding, ignoring a stored copy
  } else if (!src.tensors.count("output.weight")) {
    return Status::Error(dir + ": no lm_head.weight, and config.json says tie_word_embeddings is false");
  }
  return src;
}

}  // namespace leanlm
