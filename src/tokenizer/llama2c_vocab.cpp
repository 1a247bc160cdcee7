// llama2.c's tokenizer.bin (written by its tokenizer.py export): int32
// max_token_length, then for each token float32 score, int32 byte length and
// the bytes, up to the end of the file. The export writes SentencePiece's "▁"
// as a space and BOS/EOS as "\n<s>\n" / "\n</s>\n"; both are undone here so
// the vocabulary reads like GGUF's "llama" model.
#include <cstring>

#include "base/mmap_file.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab_loaders.h"

namespace leanlm {
namespace {

// llama2.c's fixed ids.
constexpr int32_t kUnk = 0, kBos = 1, kEos = 2;

template <typename T>
T ReadLe(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

Result<VocabData> VocabFromLlama2cTokenizerBytes(std::string_view data, const std::string& name) {
  auto error = [&](size_t offset, const std::string& what) {
    return Status::Error(name + ": at byte " + std::to_string(offset) + ": " + what);
  };
  if (data.size() < 4) return error(0, "file too short for the max_token_length header (4 bytes)");
  const auto max_len = ReadLe<int32_t>(data.data());
  if (max_len <= 0) return error(0, "max_token_length is " + std::to_string(max_len) + ", expected > 0");

  VocabData v;
  v.model = "llama";
  v.pre = "default";
  size_t offset = 4;
  while (offset < data.size()) {
    if (data.size() - offset < 8) {
      return error(offset, "truncated token record: " + std::to_string(data.size() - offset) +
                               " bytes left, a record needs at least 8 (score, length)");
    }
    const float score = ReadLe<float>(data.data() + offset);
    const auto len = ReadLe<int32_t>(data.data() + offset + 4);
    const size_t index = v.tokens.size();
    if (len < 0 || len > max_len) {
      return error(offset + 4, "token " + std::to_string(index) + " has length " + std::to_string(len) +
                                   ", expected 0.." + std::to_string(max_len) + " (max_token_length)");
    }
    offset += 8;
    if (static_cast<size_t>(len) > data.size() - offset) {
      return error(offset, "token " + std::to_string(index) + " needs " + std::to_string(len) +
                               " bytes, only " + std::to_string(data.size() - offset) + " left");
    }
    v.tokens.emplace_back(data.substr(offset, len));
    v.scores.push_back(score);
    offset += len;
  }
  if (v.tokens.size() < 3) {
    return error(offset, "only " + std::to_string(v.tokens.size()) + " tokens; expected <unk>, <s>, </s> at least");
  }

  if (v.tokens[kBos] == "\n<s>\n") v.tokens[kBos] = "<s>";
  if (v.tokens[kEos] == "\n</s>\n") v.tokens[kEos] = "</s>";
  v.token_types.assign(v.tokens.size(), static_cast<int32_t>(TokenType::kNormal));
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    std::string& t = v.tokens[i];
    if (ParseByteToken(t) >= 0) {
      v.token_types[i] = static_cast<int32_t>(TokenType::kByte);
      continue;
    }
    std::string escaped;
    escaped.reserve(t.size() + 8);
    for (char c : t) {
      if (c == ' ') {
        escaped.append(kSpmSpace);
      } else {
        escaped += c;
      }
    }
    t = std::move(escaped);
  }
  v.token_types[kUnk] = static_cast<int32_t>(TokenType::kUnknown);
  v.token_types[kBos] = static_cast<int32_t>(TokenType::kControl);
  v.token_types[kEos] = static_cast<int32_t>(TokenType::kControl);
  v.unk_id = kUnk;
  v.bos_id = kBos;
  v.eos_id = kEos;
  v.add_bos = true;
  v.add_eos = false;
  v.add_space_prefix = true;  // llama2.c's encode adds the dummy prefix
  LEANLM_RETURN_IF_ERROR(v.Validate(name));
  return v;
}

Result<VocabData> VocabFromLlama2cTokenizer(const std::string& path) {
  LEANLM_ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
  return VocabFromLlama2cTokenizerBytes(
      std::string_view(reinterpret_cast<const char*>(file->data()), file->size()), path);
}

}  // namespace leanlm
