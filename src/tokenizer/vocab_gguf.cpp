// VocabData <-> GGUF metadata (tokenizer.ggml.*, tokenizer.chat_template),
// with llama.cpp's defaults (llama_vocab::impl::load) for absent keys.
#include <algorithm>

#include "base/log.h"
#include "io/gguf.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/vocab.h"

namespace leanlm {
namespace {

constexpr const char* kModel = "tokenizer.ggml.model";
constexpr const char* kPre = "tokenizer.ggml.pre";
constexpr const char* kTokens = "tokenizer.ggml.tokens";
constexpr const char* kScores = "tokenizer.ggml.scores";
constexpr const char* kTokenType = "tokenizer.ggml.token_type";
constexpr const char* kMerges = "tokenizer.ggml.merges";
constexpr const char* kBos = "tokenizer.ggml.bos_token_id";
constexpr const char* kEos = "tokenizer.ggml.eos_token_id";
constexpr const char* kUnk = "tokenizer.ggml.unknown_token_id";
constexpr const char* kPad = "tokenizer.ggml.padding_token_id";
constexpr const char* kEot = "tokenizer.ggml.eot_token_id";
constexpr const char* kAddBos = "tokenizer.ggml.add_bos_token";
constexpr const char* kAddEos = "tokenizer.ggml.add_eos_token";
constexpr const char* kAddSpacePrefix = "tokenizer.ggml.add_space_prefix";
constexpr const char* kChatTemplate = "tokenizer.chat_template";

// A bool key if present; a key of another type is an error, as in llama.cpp.
Status ReadOptionalBool(const GgufFile& gguf, const char* key, bool& target) {
  if (gguf.Find(key) == nullptr) return Status::Ok();
  LEANLM_ASSIGN_OR_RETURN(target, gguf.GetBool(key));
  return Status::Ok();
}

}  // namespace

Result<VocabData> VocabFromGguf(const GgufFile& gguf) {
  const std::string& name = gguf.name();
  VocabData v;
  LEANLM_ASSIGN_OR_RETURN(v.model, gguf.GetString(kModel));
  if (v.model == "llama") {
    v.bos_id = 1, v.eos_id = 2, v.unk_id = 0;
    v.add_bos = true, v.add_eos = false, v.add_space_prefix = true;
  } else if (v.model == "gpt2") {
    v.bos_id = 11, v.eos_id = 11;  // llama.cpp's defaults for BPE vocabularies
    v.add_bos = false, v.add_eos = false, v.add_space_prefix = false;
  } else {
    return Status::Error(name + ": key '" + kModel + "' is '" + v.model +
                         "'; supported: 'llama' (SentencePiece BPE) and 'gpt2' (byte-level BPE)");
  }
  if (gguf.Find(kPre) != nullptr) {
    LEANLM_ASSIGN_OR_RETURN(v.pre, gguf.GetString(kPre));
  }
  if (v.model == "gpt2") {
    const std::string_view group = CanonicalPreTokenizerName(v.pre);
    if (group == "llama-bpe" || group == "tekken") v.add_bos = true;
    if (v.pre == "chatglm-bpe") v.bos_id = -1;
    if (gguf.Find(kMerges) == nullptr) return Status::Error(name + ": a 'gpt2' vocabulary needs key '" + kMerges + "'");
  }

  LEANLM_ASSIGN_OR_RETURN(v.tokens, gguf.GetStringArray(kTokens));
  if (gguf.Find(kScores) != nullptr) {
    LEANLM_ASSIGN_OR_RETURN(v.scores, gguf.GetFloatArray(kScores));
  }
  if (gguf.Find(kTokenType) != nullptr) {
    LEANLM_ASSIGN_OR_RETURN(v.token_types, gguf.GetIntArray(kTokenType));
  }
  if (gguf.Find(kMerges) != nullptr) {
    LEANLM_ASSIGN_OR_RETURN(v.merges, gguf.GetStringArray(kMerges));
  }

  const auto n = static_cast<int64_t>(v.tokens.size());
  const std::pair<const char*, int32_t*> ids[] = {
      {kBos, &v.bos_id}, {kEos, &v.eos_id}, {kUnk, &v.unk_id}, {kPad, &v.pad_id}, {kEot, &v.eot_id}};
  for (const auto& [key, target] : ids) {
    if (*target >= n) *target = -1;  // a default that this vocabulary is too small for
    if (gguf.Find(key) == nullptr) continue;
    LEANLM_ASSIGN_OR_RETURN(const int64_t id, gguf.GetInt(key));
    if (id < 0 || id >= n) {
      // llama.cpp keeps the default (files use 0xFFFFFFFF for "none").
      Log(LogLevel::kDebug, "%s: %s = %lld is not a token id; ignored", name.c_str(), key, static_cast<long long>(id));
      continue;
    }
    *target = static_cast<int32_t>(id);
  }
  LEANLM_RETURN_IF_ERROR(ReadOptionalBool(gguf, kAddBos, v.add_bos));
  LEANLM_RETURN_IF_ERROR(ReadOptionalBool(gguf, kAddEos, v.add_eos));
  LEANLM_RETURN_IF_ERROR(ReadOptionalBool(gguf, kAddSpacePrefix, v.add_space_prefix));
  if (gguf.Find(kChatTemplate) != nullptr) {
    LEANLM_ASSIGN_OR_RETURN(v.chat_template, gguf.GetString(kChatTemplate));
  }
  if (v.add_bos && v.bos_id < 0) v.add_bos = false;
  if (v.add_eos && v.eos_id < 0) v.add_eos = false;
  LEANLM_RETURN_IF_ERROR(v.Validate(name));
  return v;
}

void VocabToGguf(const VocabData& v, GgufWriter& writer) {
  writer.Set(kModel, GgufValue::Str(v.model));
  writer.Set(kPre, GgufValue::Str(v.pre));
  writer.Set(kTokens, GgufValue::StrArray(v.tokens));
  if (!v.scores.empty()) writer.Set(kScores, GgufValue::F32Array(v.scores));
  if (!v.token_types.empty()) writer.Set(kTokenType, GgufValue::I32Array(v.token_types));
  if (!v.merges.empty()) writer.Set(kMerges, GgufValue::StrArray(v.merges));
  const std::pair<const char*, int32_t> ids[] = {
      {kBos, v.bos_id}, {kEos, v.eos_id}, {kUnk, v.unk_id}, {kPad, v.pad_id}, {kEot, v.eot_id}};
  for (const auto& [key, id] : ids) {
    if (id >= 0) writer.Set(key, GgufValue::U32(static_cast<uint32_t>(id)));
  }
  writer.Set(kAddBos, GgufValue::Bool(v.add_bos));
  writer.Set(kAddEos, GgufValue::Bool(v.add_eos));
  writer.Set(kAddSpacePrefix, GgufValue::Bool(v.add_space_prefix));
  if (!v.chat_template.empty()) writer.Set(kChatTemplate, GgufValue::Str(v.chat_template));
}

}  // namespace leanlm
