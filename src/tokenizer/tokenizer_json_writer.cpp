// VocabData -> Hugging Face tokenizer.json + tokenizer_config.json, in the
// pipelines Hugging Face itself writes for these two kinds: SentencePiece
// BPE with byte fallback (LLaMA-2 style, merges rebuilt from the scores as
// transformers' SentencePieceExtractor does) and byte-level BPE.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/mmap_file.h"
#include "tokenizer/hf_tokenizer_json.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/token_index.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab_loaders.h"

namespace leanlm {
namespace {

using ojson = nlohmann::ordered_json;

// Placeholders for the parts written as text. "model" is the last key and
// merges its last member, so the last occurrence of each is the placeholder
// even if some token's text were the same string.
constexpr std::string_view kVocabMark = "@@leanlm:vocab@@";
constexpr std::string_view kMergesMark = "@@leanlm:merges@@";

ojson Split(std::string_view regex) {
  return {{"type", "Split"},
          {"pattern", {{"Regex", std::string(regex)}}},
          {"behavior", "Isolated"},
          {"invert", false}};
}
ojson ByteLevel(bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", use_regex}};
}
ojson Digits(bool individual) { return {{"type", "Digits"}, {"individual_digits", individual}}; }
ojson Sequence(std::vector<ojson> steps) { return {{"type", "Sequence"}, {"pretokenizers", std::move(steps)}}; }

// The pipeline for a byte-level pre-tokenizer; the reader maps it back.
Result<ojson> ByteLevelPipeline(const std::string& pre) {
  const std::string_view group = CanonicalPreTokenizerName(pre);
  if (group == "gpt-2") return ByteLevel(true);
  if (group == "llama-bpe") return Sequence({Split(hf::kLlama3Pattern), ByteLevel(false)});
  if (group == "qwen2") return Sequence({Split(hf::kQwen2Pattern), ByteLevel(false)});
  if (group == "starcoder") return Sequence({Digits(true), ByteLevel(true)});
  if (group == "falcon") {
    return Sequence({{{"type", "Punctuation"}, {"behavior", "Contiguous"}},
                     ByteLevel(true),
                     Digits(false),
                     Split(hf::kThreeDigitsPattern)});
  }
  if (group == "deepseek-coder") {
    return Sequence({Split(hf::kNewlinePattern), Split(hf::kLetterRunPattern), Split(hf::kPunctRunPattern),
                     Split(hf::kCjkPattern), Digits(true), ByteLevel(false)});
  }
  if (group == "deepseek-llm") {
    return Sequence({Split(hf::kNewlinePattern), Split(hf::kDeepseekLlmLetters), Split(hf::kDeepseekLlmPunct),
                     Split(hf::kTrailingSpacePattern), Split(hf::kCjkPattern), Digits(false), ByteLevel(false)});
  }
  return Status::Error("pre-tokenizer '" + pre + "' has no tokenizer.json form here (supported: gpt-2, llama-bpe, "
                       "qwen2, starcoder, falcon, deepseek-coder, deepseek-llm)");
}

// SentencePiece BPE as merges: every split of a piece into two pieces, pieces
// by descending score, splits of one piece by (left id, right id) — as
// transformers' SentencePieceExtractor does.
std::vector<std::string> MergesFromScores(const VocabData& v) {
  const auto n = static_cast<int32_t>(v.tokens.size());
  TokenIndex normal(&v.tokens, n);
  for (int32_t id = 0; id < n; ++id) {
    if (v.type(id) == TokenType::kNormal) normal.Add(id);
  }
  struct Merge {
    float score;
    int32_t left, right;
  };
  std::vector<Merge> merges;
  for (int32_t id = 0; id < n; ++id) {
    if (v.type(id) != TokenType::kNormal) continue;
    const std::string& t = v.tokens[id];
    const size_t first = merges.size();
    for (size_t cut = 1; cut < t.size(); ++cut) {
      if ((static_cast<uint8_t>(t[cut]) & 0xC0) == 0x80) continue;  // inside a character
      const int32_t left = normal.Find(std::string_view(t).substr(0, cut));
      const int32_t right = normal.Find(std::string_view(t).substr(cut));
      if (left >= 0 && right >= 0) merges.push_back({v.score(id), left, right});
    }
    std::sort(merges.begin() + first, merges.end(),
              [](const Merge& a, const Merge& b) { return std::tie(a.left, a.right) < std::tie(b.left, b.right); });
  }
  std::stable_sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) { return a.score > b.score; });
  std::vector<std::string> out;
  out.reserve(merges.size());
  for (const Merge& m : merges) out.push_back(v.tokens[m.left] + " " + v.tokens[m.right]);
  return out;
}

ojson PostProcessor(const VocabData& v) {
  if (!v.add_bos && !v.add_eos) {
    if (v.model == "gpt2") {
      return {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}};
    }
    return nullptr;
  }
  auto special = [&](int32_t id, int type_id) {
    return ojson{{"SpecialToken", {{"id", v.tokens[id]}, {"type_id", type_id}}}};
  };
  auto sequence = [](const char* name, int type_id) {
    return ojson{{"Sequence", {{"id", name}, {"type_id", type_id}}}};
  };
  ojson single = ojson::array(), pair = ojson::array(), specials = ojson::object();
  for (int type_id = 0; type_id < 2; ++type_id) {
    ojson& t = type_id == 0 ? single : pair;
    if (type_id == 1) t = single;
    if (v.add_bos) t.push_back(special(v.bos_id, type_id));
    t.push_back(sequence(type_id == 0 ? "A" : "B", type_id));
    if (v.add_eos) t.push_back(special(v.eos_id, type_id));
  }
  for (int32_t id : {v.add_bos ? v.bos_id : -1, v.add_eos ? v.eos_id : -1}) {
    if (id >= 0) specials[v.tokens[id]] = {{"id", v.tokens[id]}, {"ids", {id}}, {"tokens", {v.tokens[id]}}};
  }
  return {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", specials}};
}

Status WriteText(const std::string& path, const std::string& text) {
  LEANLM_ASSIGN_OR_RETURN(auto writer, AtomicFileWriter::Create(path));
  LEANLM_RETURN_IF_ERROR(writer->Write(text.data(), text.size()));
  return writer->Commit();
}

Result<std::pair<std::string, std::string>> Render(const VocabData& v) {
  const auto n = static_cast<int32_t>(v.tokens.size());
  const bool spm = v.model == "llama";
  auto is_added = [&](int32_t id) {
    const TokenType t = v.type(id);
    return t == TokenType::kControl || t == TokenType::kUnknown || t == TokenType::kUserDefined;
  };

  TokenIndex index(&v.tokens, n);
  for (int32_t id = 0; id < n; ++id) {
    index.Add(id);
    if (index.Find(v.tokens[id]) != id) {
      return Status::Error("token text '" + v.tokens[id].substr(0, 40) + "' appears twice (id " + std::to_string(id) +
                           "); tokenizer.json cannot hold duplicates");
    }
  }
  ojson added = ojson::array(), added_decoder = ojson::object();
  for (int32_t id = 0; id < n; ++id) {
    if (!is_added(id)) continue;
    const bool special = v.type(id) != TokenType::kUserDefined;
    added.push_back({{"id", id}, {"content", v.tokens[id]}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", special}});
    added_decoder[std::to_string(id)] = {{"content", v.tokens[id]}, {"lstrip", false}, {"normalized", false},
                                         {"rstrip", false}, {"single_word", false}, {"special", special}};
  }

  ojson j = ojson::object();
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  j["added_tokens"] = std::move(added);
  const std::string space(kSpmSpace);
  if (spm) {
    const ojson replace = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", space}};
    j["normalizer"] = v.add_space_prefix ? ojson{{"type", "Sequence"},
                                                 {"normalizers", {{{"type", "Prepend"}, {"prepend", space}}, replace}}}
                                         : replace;
    j["pre_tokenizer"] = nullptr;
  } else {
    j["normalizer"] = nullptr;
    LEANLM_ASSIGN_OR_RETURN(j["pre_tokenizer"], ByteLevelPipeline(v.pre));
  }
  j["post_processor"] = PostProcessor(v);
  if (spm) {
    ojson decoders = {{{"type", "Replace"}, {"pattern", {{"String", space}}}, {"content", " "}},
                      {{"type", "ByteFallback"}},
                      {{"type", "Fuse"}}};
    if (v.add_space_prefix) decoders.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
    j["decoder"] = {{"type", "Sequence"}, {"decoders", decoders}};
  } else {
    j["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  }
  ojson model = ojson::object();
  model["type"] = "BPE";
  model["dropout"] = nullptr;
  model["unk_token"] = v.unk_id >= 0 ? ojson(v.tokens[v.unk_id]) : ojson(nullptr);
  model["continuing_subword_prefix"] = nullptr;
  model["end_of_word_suffix"] = nullptr;
  model["fuse_unk"] = spm;
  model["byte_fallback"] = spm;
  model["ignore_merges"] = !spm && CanonicalPreTokenizerName(v.pre) == "llama-bpe";
  // vocab and merges (most of the file) are written below without the DOM.
  model["vocab"] = kVocabMark;
  model["merges"] = kMergesMark;
  j["model"] = std::move(model);

  ojson config = ojson::object();
  config["add_bos_token"] = v.add_bos;
  config["add_eos_token"] = v.add_eos;
  config["added_tokens_decoder"] = std::move(added_decoder);
  const std::pair<const char*, int32_t> specials[] = {
      {"bos_token", v.bos_id}, {"eos_token", v.eos_id}, {"unk_token", v.unk_id}, {"pad_token", v.pad_id}};
  for (const auto& [key, id] : specials) config[key] = id >= 0 ? ojson(v.tokens[id]) : ojson(nullptr);
  if (!v.chat_template.empty()) config["chat_template"] = v.chat_template;
  config["clean_up_tokenization_spaces"] = false;
  if (spm) config["legacy"] = true;
  config["tokenizer_class"] = "PreTrainedTokenizerFast";
  std::string text = j.dump(2);
  auto splice = [&](std::string_view mark, const std::string& body) {
    std::string quoted(1, '"');  // appended piecewise: GCC 12's -Wrestrict misfires on "x" + s + "x"
    quoted.append(mark);
    quoted += '"';
    const size_t at = text.rfind(quoted);
    if (at != std::string::npos) text = text.substr(0, at) + body + text.substr(at + quoted.size());
  };
  std::string vocab = "{";
  for (int32_t id = 0; id < n; ++id) {
    vocab += id == 0 ? "\n      " : ",\n      ";
    vocab += nlohmann::json(v.tokens[id]).dump() + ": " + std::to_string(id);
  }
  splice(kVocabMark, vocab + "\n    }");
  const std::vector<std::string> merges = spm ? MergesFromScores(v) : v.merges;
  std::string merges_text = "[";
  for (size_t i = 0; i < merges.size(); ++i) {
    merges_text += i == 0 ? "\n      " : ",\n      ";
    merges_text += nlohmann::json(merges[i]).dump();
  }
  splice(kMergesMark, merges_text + (merges.empty() ? "]" : "\n    ]"));
  return std::make_pair(std::move(text), config.dump(2));
}

}  // namespace

Status VocabToTokenizerJson(const VocabData& vocab, const std::string& tokenizer_json_path,
                            const std::string& tokenizer_config_path) {
  LEANLM_RETURN_IF_ERROR(vocab.Validate("vocabulary for " + tokenizer_json_path));
  Result<std::pair<std::string, std::string>> texts = Status::Error("not rendered");
  try {
    texts = Render(vocab);
  } catch (const nlohmann::json::exception& e) {
    return Status::Error("writing " + tokenizer_json_path + ": " + e.what());
  }
  if (!texts.ok()) return texts.status().WithContext("writing " + tokenizer_json_path);
  LEANLM_RETURN_IF_ERROR(WriteText(tokenizer_json_path, texts->first));
  return WriteText(tokenizer_config_path, texts->second);
}

}  // namespace leanlm
