// leanlm info: metadata, tensor table, parameter count and bytes.
#include <cstdio>
#include <map>

#include "commands.h"
#include "common.h"
#include "io/gguf.h"
#include "io/model_source.h"

namespace leanlm::cli {
namespace {

std::string FormatValue(const GgufValue& v) {
  switch (v.type) {
    case GgufType::kString: {
      std::string s = v.str.size() > 80 ? v.str.substr(0, 77) + "..." : v.str;
      for (char& c : s) {
        if (c == '\n') c = ' ';
      }
      return "\"" + s + "\"";
    }
    case GgufType::kArray: {
      std::string s = "[";
      for (size_t i = 0; i < v.array.size() && i < 4; ++i) s += (i ? ", " : "") + FormatValue(v.array[i]);
      if (v.array.size() > 4) s += ", ... (" + std::to_string(v.array.size()) + " items)";
      return s + "]";
    }
    case GgufType::kBool:
      return v.u ? "true" : "false";
    case GgufType::kFloat32:
    case GgufType::kFloat64: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", v.f);
      return buf;
    }
    default:
      return std::to_string(v.as_int());
  }
}

std::string HumanBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %s", bytes, units[u]);
  return buf;
}

void PrintModel(const ModelSource& source) {
  const ModelConfig& c = source.config;
  std::printf("\nmodel: %s, %lld layers, width %lld, %lld heads (%lld kv), head dim %lld, ffn %lld, vocab %lld, "
              "context %lld, rope theta %g (%s layout)%s%s\n",
              c.arch.c_str(), static_cast<long long>(c.n_layer), static_cast<long long>(c.n_embd),
              static_cast<long long>(c.n_head), static_cast<long long>(c.n_head_kv), static_cast<long long>(c.head_dim),
              static_cast<long long>(c.n_ff), static_cast<long long>(c.n_vocab), static_cast<long long>(c.n_ctx_train),
              c.rope_theta, c.rope_neox ? "neox" : "normal", c.tied_embeddings ? ", tied embeddings" : "",
              c.qkv_bias ? ", q/k/v biases" : "");
  if (source.vocab) {
    std::printf("tokenizer: %s (pre %s), %zu tokens, bos %d, eos %d%s\n", source.vocab->model.c_str(),
                source.vocab->pre.c_str(), source.vocab->tokens.size(), source.vocab->bos_id, source.vocab->eos_id,
                source.vocab->chat_template.empty() ? "" : ", chat template");
  }
}

// The tensor table (when `table`), parameter count, bytes and bits per weight.
void PrintTensors(const TensorMap& tensors, bool table) {
  int64_t params = 0;
  double bytes = 0;
  std::map<std::string, int64_t> by_type;
  if (table) std::printf("\n%-36s %-8s %-20s %12s\n", "tensor", "type", "shape (ggml order)", "bytes");
  for (const auto& [name, view] : tensors) {
    params += view.elements();
    bytes += static_cast<double>(view.bytes());
    by_type[TypeName(view.type)] += view.elements();
    if (table) {
      std::printf("%-36s %-8s %-20s %12zu\n", name.c_str(), TypeName(view.type), view.shape_string().c_str(),
                  view.bytes());
    }
  }
  std::printf("\nparameters: %lld (%.3f B), tensor bytes: %s, bits per weight: %.3f\n", static_cast<long long>(params),
              params / 1e9, HumanBytes(bytes).c_str(), params ? bytes * 8 / params : 0.0);
  for (const auto& [type, n] : by_type) std::printf("  %-6s %lld parameters\n", type.c_str(), static_cast<long long>(n));
}

}  // namespace

int InfoCommand(int argc, char** argv) {
  std::string path;
  bool no_tensors = false;
  ArgParser args("info", "Shows a model file's metadata, tensors, parameter count and size.");
  args.AddPositional("MODEL", &path, "GGUF file (model or LoRA adapter), Hugging Face directory, or llama2.c .bin");
  args.AddFlag("--no-tensors", &no_tensors, "omit the tensor table");
  if (int rc = ParseOrExit(args, argc, argv); rc >= 0) return rc;

  // GGUF metadata first: an adapter GGUF (general.type = adapter) has no
  // model to describe, only its metadata and tensors.
  std::shared_ptr<GgufFile> gguf;
  if (auto format = DetectModelFormat(path); format.ok() && *format == ModelFormat::kGguf) {
    auto opened = GgufFile::Open(path);
    if (!opened.ok()) return Fail("info", opened.status());
    gguf = std::move(*opened);
    std::printf("file: %s\nformat: GGUF\nGGUF version %u, %zu metadata keys, %zu tensors\n\nmetadata:\n", path.c_str(),
                gguf->version(), gguf->metadata().size(), gguf->tensors().size());
    for (const auto& [key, value] : gguf->metadata()) std::printf("  %-44s %s\n", key.c_str(), FormatValue(value).c_str());
  }
  TensorMap tensors;
  const GgufValue* type = gguf ? gguf->Find("general.type") : nullptr;
  if (type != nullptr && type->type == GgufType::kString && type->str == "adapter") {
    for (const GgufTensorInfo& t : gguf->tensors()) tensors[t.name] = t.view;
  } else {
    auto source = LoadModelSource(path);
    if (!source.ok()) return Fail("info", source.status());
    if (!gguf) {
      const char* format_names[] = {"GGUF", "Hugging Face directory", "llama2.c checkpoint"};
      std::printf("file: %s\nformat: %s\n", path.c_str(), format_names[static_cast<int>(source->format)]);
    }
    PrintModel(*source);
    tensors = source->tensors;
  }
  PrintTensors(tensors, !no_tensors);
  return 0;
}

}  // namespace leanlm::cli
