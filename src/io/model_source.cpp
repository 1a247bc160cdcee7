// Format dispatch: which loader a path goes to, and the vocabulary override.
#include "io/model_source.h"

#include <cstdio>
#include <cstring>
#include <sys/stat.h>

#include "io/gguf.h"
#include "io/gguf_model.h"
#include "io/hf_dir.h"
#include "io/llama2c.h"
#include "tokenizer/vocab_loaders.h"

namespace leanlm {
namespace {

enum class PathKind { kMissing, kDirectory, kFile, kOther };

PathKind Kind(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return PathKind::kMissing;
  if (S_ISDIR(st.st_mode)) return PathKind::kDirectory;
  return S_ISREG(st.st_mode) ? PathKind::kFile : PathKind::kOther;
}

// The first bytes of a file (for magic numbers) and its size.
Status ReadHead(const std::string& path, size_t n, std::string* head, uint64_t* size) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::Error("cannot stat " + path);
  *size = static_cast<uint64_t>(st.st_size);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Status::Error("cannot open " + path);
  head->resize(n);
  head->resize(std::fread(head->data(), 1, n, f));
  std::fclose(f);
  return Status::Ok();
}

bool IsGgufMagic(const std::string& head) { return head.size() >= 4 && std::memcmp(head.data(), "GGUF", 4) == 0; }

std::string Printable(const std::string& s) {
  std::string out;
  for (char c : s) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

Result<ModelSource> LoadGgufSource(const std::string& path, const LoadOptions& options) {
  LEANLM_ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> file, GgufFile::Open(path, options.mode));
  std::shared_ptr<const GgufFile> gguf(std::move(file));
  ModelSource src;
  src.format = ModelFormat::kGguf;
  src.path = path;
  LEANLM_ASSIGN_OR_RETURN(src.config, ConfigFromGguf(*gguf));
  for (const GgufTensorInfo& t : gguf->tensors()) src.tensors.emplace(t.name, t.view);
  // ConfigFromGguf turned rope_freqs.weight into Llama-3 scaling parameters
  // that reproduce it; keeping the tensor too would scale RoPE twice (the
  // model divides by rope_freqs when present). SaveGguf writes it back.
  src.tensors.erase(kRopeFreqsTensor);
  if (gguf->Find("tokenizer.ggml.model") || gguf->Find("tokenizer.ggml.tokens")) {
    LEANLM_ASSIGN_OR_RETURN(src.vocab, VocabFromGguf(*gguf));
  }
  if (gguf->file()) src.files.push_back(gguf->file());
  src.keep_alive.push_back(std::move(gguf));
  return src;
}

}  // namespace

Result<ModelFormat> DetectModelFormat(const std::string& path) {
  switch (Kind(path)) {
    case PathKind::kMissing:
      return Status::Error(path + ": no such file or directory");
    case PathKind::kOther:
      return Status::Error(path + " is neither a regular file nor a directory");
    case PathKind::kDirectory:
      if (Kind(path + "/config.json") == PathKind::kFile) return ModelFormat::kHfDir;
      return Status::Error(path + " is a directory without config.json (expected a Hugging Face model directory)");
    case PathKind::kFile:
      break;
  }
  std::string head;
  uint64_t size = 0;
  LEANLM_RETURN_IF_ERROR(ReadHead(path, 28, &head, &size));
  if (IsGgufMagic(head)) return ModelFormat::kGguf;
  const Status llama2c =
      CheckLlama2cHeader(reinterpret_cast<const uint8_t*>(head.data()), head.size(), size, path);
  if (llama2c.ok()) return ModelFormat::kLlama2c;
  return Status::Error(path + ": unknown model format: not GGUF (magic '" + Printable(head.substr(0, 4)) +
                       "', expected 'GGUF'), and not a llama2.c checkpoint (" + llama2c.message() + ")");
}

Result<ModelSource> LoadModelSource(const std::string& path, const LoadOptions& options) {
  LEANLM_ASSIGN_OR_RETURN(ModelFormat format, DetectModelFormat(path));
  Result<ModelSource> loaded = Status::Error("internal: unhandled model format");
  switch (format) {
    case ModelFormat::kGguf:
      loaded = LoadGgufSource(path, options);
      break;
    case ModelFormat::kHfDir: {
      // The override below reads every tokenizer format; LoadHfDir's reads tokenizer.json only.
      LoadOptions hf_options = options;
      hf_options.tokenizer_path.clear();
      loaded = LoadHfDir(path, hf_options);
      break;
    }
    case ModelFormat::kLlama2c:
      loaded = LoadLlama2c(path, options);
      break;
  }
  if (!loaded.ok()) return loaded.status();
  ModelSource src = std::move(loaded).value();
  src.format = format;
  src.path = path;
  if (!options.tokenizer_path.empty()) {
    LEANLM_ASSIGN_OR_RETURN(src.vocab, LoadVocab(options.tokenizer_path));
  }
  return src;
}

Result<VocabData> LoadVocab(const std::string& path) {
  switch (Kind(path)) {
    case PathKind::kMissing:
      return Status::Error(path + ": no such file or directory");
    case PathKind::kOther:
      return Status::Error(path + " is neither a regular file nor a directory");
    case PathKind::kDirectory: {
      const std::string json = path + "/tokenizer.json";
      if (Kind(json) != PathKind::kFile) return Status::Error(path + " is a directory without tokenizer.json");
      return VocabFromTokenizerJson(json, path + "/tokenizer_config.json");
    }
    case PathKind::kFile:
      break;
  }
  std::string head;
  uint64_t size = 0;
  LEANLM_RETURN_IF_ERROR(ReadHead(path, 64, &head, &size));
  if (IsGgufMagic(head)) {
    LEANLM_ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> gguf, GgufFile::Open(path));
    return VocabFromGguf(*gguf);
  }
  const size_t first = head.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && head[first] == '{') {
    // tokenizer.json; its tokenizer_config.json lives beside it.
    const size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    return VocabFromTokenizerJson(path, dir + "/tokenizer_config.json");
  }
  return VocabFromLlama2cTokenizer(path);
}

}  // namespace leanlm
