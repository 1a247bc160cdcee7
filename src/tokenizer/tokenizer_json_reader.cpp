// Hugging Face tokenizer.json (+ tokenizer_config.json) -> VocabData.
// model.type "BPE" with byte_fallback is SentencePiece-style ("llama"): scores
// come from merge ranks. Without byte_fallback and with a ByteLevel
// pre-tokenizer it is byte-level BPE ("gpt2"): the pre-tokenizer name comes
// from the shape of the pipeline and its Split patterns.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "base/mmap_file.h"
#include "tokenizer/hf_tokenizer_json.h"
#include "tokenizer/token_index.h"
#include "tokenizer/vocab_loaders.h"

namespace leanlm {

bool hf::LooksSpecial(std::string_view t) {
  auto starts = [&](std::string_view p) { return t.size() >= p.size() && t.substr(0, p.size()) == p; };
  auto ends = [&](std::string_view s) { return t.size() >= s.size() && t.substr(t.size() - s.size()) == s; };
  if (t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]") return true;
  if (t.size() >= 4 && starts("<|") && ends("|>")) return true;
  if (starts("<\xEF\xBD\x9C") && ends("\xEF\xBD\x9C>") && t.size() >= 8) return true;  // <｜...｜>
  return starts("<unused") && ends(">");
}

namespace {

using json = nlohmann::json;

// Steps of the pre-tokenizer pipeline that decide the pre-tokenizer name.
struct PipelineSummary {
  bool byte_level = false, byte_level_regex = false;
  std::vector<std::string> splits;  // Split regex/string patterns, in order
  bool digits = false, digits_individual = false, punctuation = false;
  std::vector<std::string> others;  // any other step type
};

void Summarize(const json& step, PipelineSummary& s) {
  if (!step.is_object()) return;
  const std::string type = step.value("type", "");
  if (type == "Sequence") {
    const auto it = step.find("pretokenizers");
    if (it != step.end() && it->is_array()) {
      for (const auto& sub : *it) Summarize(sub, s);
    }
  } else if (type == "ByteLevel") {
    s.byte_level = true;
    s.byte_level_regex = step.value("use_regex", true);
  } else if (type == "Split") {
    const auto pattern = step.find("pattern");
    if (pattern != step.end() && pattern->is_object()) {
      if (pattern->contains("Regex") && (*pattern)["Regex"].is_string()) {
        s.splits.push_back((*pattern)["Regex"].get<std::string>());
      } else if (pattern->contains("String") && (*pattern)["String"].is_string()) {
        s.splits.push_back((*pattern)["String"].get<std::string>());
      }
    }
  } else if (type == "Digits") {
    s.digits = true;
    s.digits_individual = step.value("individual_digits", false);
  } else if (type == "Punctuation") {
    s.punctuation = true;
  } else {
    s.others.push_back(type);
  }
}

bool Has(const std::vector<std::string>& v, std::string_view x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// The llama.cpp pre-tokenizer a byte-level pipeline corresponds to, or "".
std::string DetectPre(const PipelineSummary& s) {
  if (!s.others.empty()) return "";
  if (s.splits.size() == 1 && s.splits[0] == hf::kLlama3Pattern && !s.digits) return "llama-bpe";
  if (s.splits.size() == 1 && s.splits[0] == hf::kQwen2Pattern && !s.digits) return "qwen2";
  if (s.splits.empty() && !s.digits && !s.punctuation && s.byte_level_regex) return "gpt-2";
  if (s.splits.empty() && s.digits && s.digits_individual && !s.punctuation && s.byte_level_regex) {
    return "starcoder";
  }
  if (s.punctuation && Has(s.splits, hf::kThreeDigitsPattern)) return "falcon";
  if (Has(s.splits, hf::kLetterRunPattern) && Has(s.splits, hf::kPunctRunPattern)) return "deepseek-coder";
  for (const auto& p : s.splits) {
    if (p.compare(0, hf::kDeepseekLlmLettersPrefix.size(), hf::kDeepseekLlmLettersPrefix) == 0) {
      return "deepseek-llm";
    }
  }
  return "";
}

std::string DescribePipeline(const PipelineSummary& s) {
  std::string d = s.byte_level ? (s.byte_level_regex ? "ByteLevel(use_regex)" : "ByteLevel") : "no ByteLevel";
  for (const auto& p : s.splits) d += ", Split '" + p.substr(0, 60) + "'";
  if (s.digits) d += s.digits_individual ? ", Digits(individual)" : ", Digits";
  if (s.punctuation) d += ", Punctuation";
  for (const auto& o : s.others) d += ", " + o;
  return d;
}

// Whether the SentencePiece dummy prefix is on: a Prepend("▁") normalizer or
// a Metaspace pre-tokenizer that prepends.
bool DetectSpacePrefix(const json& node) {
  if (!node.is_object()) return false;
  const std::string type = node.value("type", "");
  if (type == "Sequence") {
    for (const char* key : {"normalizers", "pretokenizers"}) {
      const auto it = node.find(key);
      if (it == node.end() || !it->is_array()) continue;
      for (const auto& sub : *it) {
        if (DetectSpacePrefix(sub)) return true;
      }
    }
    return false;
  }
  if (type == "Prepend") return node.value("prepend", "") == "\xE2\x96\x81";
  if (type == "Metaspace") {
    const auto scheme = node.find("prepend_scheme");
    if (scheme != node.end() && scheme->is_string()) return scheme->get<std::string>() != "never";
    return node.value("add_prefix_space", true);
  }
  return false;
}

// A special-token entry of tokenizer_config.json: "text" or {"content": "text"}.
std::string SpecialTokenText(const json& config, const char* key) {
  const auto it = config.find(key);
  if (it == config.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    const auto content = it->find("content");
    if (content != it->end() && content->is_string()) return content->get<std::string>();
  }
  return "";
}

// model.vocab and model.merges hold most of a large tokenizer.json (LLaMA-3:
// 128k entries and 280k merges). A SAX handler streams them into vectors and
// builds a DOM of the rest; putting them in the DOM took most of the load time.
struct Streamed {
  std::vector<std::pair<std::string, int64_t>> vocab;  // (text, id); id -1: not a non-negative integer
  std::vector<std::string> merges;                     // "a b"
  std::vector<uint32_t> merge_split;                   // where b starts in merges[i]; 0: malformed entry
};

class TokenizerJsonSax final : public nlohmann::json_sax<json> {
 public:
  explicit TokenizerJsonSax(Streamed& out) : out_(out) {}
  json root;
  std::string error;

  bool null() override { return Scalar(nullptr); }
  bool boolean(bool v) override { return Scalar(v); }
  bool number_integer(number_integer_t v) override { return Scalar(v); }
  bool number_unsigned(number_unsigned_t v) override { return Scalar(v); }
  bool number_float(number_float_t v, const string_t&) override { return Scalar(v); }
  bool string(string_t& v) override { return Scalar(std::move(v)); }
  bool binary(binary_t&) override { return Scalar(nullptr); }  // JSON text has none
  bool key(string_t& k) override {
    key_ = std::move(k);
    return true;
  }
  bool start_object(std::size_t) override { return Start(json::object()); }
  bool start_array(std::size_t) override { return Start(json::array()); }
  bool end_object() override { return End(); }
  bool end_array() override { return End(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    error = e.what();
    return false;
  }

 private:
  enum class Kind { kDom, kModel, kVocab, kMerges, kMergePair, kSkip };
  struct Frame {
    Kind kind;
    json* node;  // kDom/kModel: the DOM node being filled
  };

  // Puts a value into the DOM node being built; returns where it went.
  json* Insert(json value) {
    if (frames_.empty()) {
      root = std::move(value);
      return &root;
    }
    json* node = frames_.back().node;
    if (node->is_object()) {
      json& slot = (*node)[key_];
      slot = std::move(value);
      return &slot;
    }
    node->push_back(std::move(value));
    return &node->back();  // stays valid: nothing is added to `node` until this child ends
  }

  void AddMerge(std::string text, uint32_t split) {
    out_.merges.push_back(std::move(text));
    out_.merge_split.push_back(split);
  }

  bool Scalar(json value) {
    switch (frames_.empty() ? Kind::kDom : frames_.back().kind) {
      case Kind::kDom:
      case Kind::kModel:
        Insert(std::move(value));
        break;
      case Kind::kVocab: {
        const bool ok = value.is_number_integer() && value.get<int64_t>() >= 0;
        out_.vocab.emplace_back(std::move(key_), ok ? value.get<int64_t>() : -1);
        break;
      }
      case Kind::kMerges:
        if (value.is_string()) {
          std::string m = value.get<std::string>();
          // As llama.cpp: the separator is the first space after the first byte.
          const size_t space = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
          AddMerge(std::move(m), space == std::string::npos ? 0 : static_cast<uint32_t>(space + 1));
        } else {
          AddMerge("", 0);
        }
        break;
      case Kind::kMergePair:
        if (value.is_string() && pair_.size() < 2) {
          pair_.push_back(value.get<std::string>());
        } else {
          pair_bad_ = true;
        }
        break;
      case Kind::kSkip:
        break;
    }
    return true;
  }

  bool Start(json container) {
    const Kind parent = frames_.empty() ? Kind::kDom : frames_.back().kind;
    if (parent == Kind::kDom || parent == Kind::kModel) {
      Kind kind = Kind::kDom;
      if (frames_.size() == 1 && key_ == "model" && container.is_object()) kind = Kind::kModel;
      if (parent == Kind::kModel && key_ == "vocab" && container.is_object()) kind = Kind::kVocab;
      if (parent == Kind::kModel && key_ == "merges" && container.is_array()) kind = Kind::kMerges;
      json* node = Insert(std::move(container));  // vocab and merges stay empty in the DOM
      frames_.push_back({kind, node});
      return true;
    }
    if (parent == Kind::kMerges && container.is_array()) {
      pair_.clear();
      pair_bad_ = false;
      frames_.push_back({Kind::kMergePair, nullptr});
      return true;
    }
    // Anything else nested in vocab or merges is malformed: note it, skip its contents.
    if (parent == Kind::kVocab) out_.vocab.emplace_back(std::move(key_), -1);
    if (parent == Kind::kMerges) AddMerge("", 0);
    if (parent == Kind::kMergePair) pair_bad_ = true;
    frames_.push_back({Kind::kSkip, nullptr});
    return true;
  }

  bool End() {
    if (frames_.back().kind == Kind::kMergePair) {
      if (pair_bad_ || pair_.size() != 2) {
        AddMerge("", 0);
      } else {
        AddMerge(pair_[0] + " " + pair_[1], static_cast<uint32_t>(pair_[0].size() + 1));
      }
    }
    frames_.pop_back();
    return true;
  }

  Streamed& out_;
  std::vector<Frame> frames_;
  std::string key_;
  std::vector<std::string> pair_;
  bool pair_bad_ = false;
};

// Token texts and types from model.vocab and added_tokens. Ids no entry
// names become "[PAD<id>]" (unused), as in llama.cpp's converter; ids are
// bounded by the number of entries so a stray huge id cannot allocate gigabytes.
Status BuildTokens(Streamed& streamed, const json& added, const std::string& name, VocabData& v) {
  const size_t n_entries = streamed.vocab.size() + added.size();
  const int64_t max_allowed = static_cast<int64_t>(n_entries) * 2 + 1024;
  auto bad_id = [&](const std::string& id, const std::string& what) {
    return Status::Error(name + ": " + what + " has id " + id + ", expected an integer in [0, " +
                         std::to_string(max_allowed) + ")");
  };
  int64_t n_tokens = 0;
  for (const auto& [token, id] : streamed.vocab) {
    if (id < 0 || id >= max_allowed) {
      return bad_id(id < 0 ? "that is not a non-negative integer" : std::to_string(id),
                    "model.vocab entry '" + token.substr(0, 40) + "'");
    }
    n_tokens = std::max(n_tokens, id + 1);
  }
  for (size_t i = 0; i < added.size(); ++i) {
    const json& a = added[i];
    if (!a.is_object() || !a.contains("id") || !a.contains("content") || !a["content"].is_string()) {
      return Status::Error(name + ": added_tokens[" + std::to_string(i) + "] needs an id and a content string");
    }
    const json& id = a["id"];
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= max_allowed) {
      return bad_id(id.dump(), "added_tokens[" + std::to_string(i) + "]");
    }
    n_tokens = std::max(n_tokens, id.get<int64_t>() + 1);
  }

  v.tokens.assign(n_tokens, std::string());
  std::vector<bool> filled(n_tokens, false);
  for (auto& [token, id] : streamed.vocab) {
    if (filled[id] && v.tokens[id] != token) {
      return Status::Error(name + ": id " + std::to_string(id) + " is given to both '" + v.tokens[id].substr(0, 40) +
                           "' and '" + token.substr(0, 40) + "' in model.vocab");
    }
    v.tokens[id] = std::move(token);
    filled[id] = true;
  }
  v.token_types.assign(n_tokens, static_cast<int32_t>(TokenType::kNormal));
  for (int64_t i = 0; i < n_tokens; ++i) {
    if (!filled[i]) {
      v.tokens[i] = "[PAD" + std::to_string(i) + "]";
      v.token_types[i] = static_cast<int32_t>(TokenType::kUnused);
    }
  }
  // Added tokens take the id they name (their text wins, as in HF's decode).
  for (const auto& a : added) {
    const auto i = a["id"].get<int64_t>();
    const std::string content = a["content"].get<std::string>();
    const bool special = a.value("special", false);
    v.tokens[i] = content;
    v.token_types[i] = static_cast<int32_t>(special || hf::LooksSpecial(content) ? TokenType::kControl
                                                                                 : TokenType::kUserDefined);
  }
  return Status::Ok();
}

// SentencePiece merges the best-scoring piece first; Hugging Face's merge
// list is that order, so a piece scores minus the rank of the first merge
// that makes it. Pieces no merge makes score below all of them.
Status SpmScoresFromMerges(const Streamed& streamed, const TokenIndex& index, const std::string& name,
                           VocabData& v) {
  const auto n = static_cast<int64_t>(v.tokens.size());
  const auto n_merges = static_cast<float>(streamed.merges.size());
  v.scores.assign(n, 0.0f);
  std::vector<bool> scored(n, false);
  std::string joined;
  for (size_t r = 0; r < streamed.merges.size(); ++r) {
    const std::string& m = streamed.merges[r];
    const size_t split = streamed.merge_split[r];
    const std::string_view left(m.data(), split - 1), right(m.data() + split, m.size() - split);
    joined.assign(left).append(right);
    for (std::string_view part : {left, right, std::string_view(joined)}) {
      if (index.Find(part) < 0) {
        return Status::Error(name + ": model.merges[" + std::to_string(r) + "] refers to '" +
                             std::string(part.substr(0, 40)) + "', which is not in the vocabulary");
      }
    }
    const int32_t id = index.Find(joined);
    if (!scored[id]) v.scores[id] = -static_cast<float>(r), scored[id] = true;
  }
  for (int64_t i = 0; i < n; ++i) {
    if (ParseByteToken(v.tokens[i]) >= 0 && v.token_types[i] == static_cast<int32_t>(TokenType::kNormal)) {
      v.token_types[i] = static_cast<int32_t>(TokenType::kByte);
    }
    const bool normal = v.token_types[i] == static_cast<int32_t>(TokenType::kNormal);
    if (normal && !scored[i]) v.scores[i] = -(n_merges + static_cast<float>(i));
  }
  return Status::Ok();
}

// tokenizer_config.json: special tokens, add_bos/add_eos, chat template.
Status ApplyConfig(std::string_view config_text, const std::string& config_name, const TokenIndex& index,
                   VocabData& v) {
  const json config = json::parse(config_text.begin(), config_text.end());
  if (!config.is_object()) return Status::Error(config_name + ": expected a JSON object at the top level");
  const std::pair<const char*, int32_t*> specials[] = {
      {"bos_token", &v.bos_id}, {"eos_token", &v.eos_id}, {"unk_token", &v.unk_id}, {"pad_token", &v.pad_id}};
  for (const auto& [key, target] : specials) {
    const std::string t = SpecialTokenText(config, key);
    if (t.empty()) continue;
    const int32_t id = index.Find(t);
    if (id < 0) {
      LEANLM_WARN("%s: %s '%s' is not in the vocabulary; ignored", config_name.c_str(), key, t.c_str());
      continue;
    }
    *target = id;
  }
  if (config.contains("add_bos_token") && config["add_bos_token"].is_boolean()) v.add_bos = config["add_bos_token"];
  if (config.contains("add_eos_token") && config["add_eos_token"].is_boolean()) v.add_eos = config["add_eos_token"];
  const auto tmpl = config.find("chat_template");
  if (tmpl != config.end() && tmpl->is_string()) {
    v.chat_template = tmpl->get<std::string>();
  } else if (tmpl != config.end() && tmpl->is_array()) {
    // Named templates: take "default", else the first.
    for (const auto& t : *tmpl) {
      if (!t.is_object() || !t.contains("template") || !t["template"].is_string()) continue;
      const bool is_default = t.value("name", "") == "default";
      if (v.chat_template.empty() || is_default) v.chat_template = t["template"];
      if (is_default) break;
    }
  }
  return Status::Ok();
}

Result<VocabData> Parse(std::string_view text, const std::string& name, std::string_view config_text,
                        const std::string& config_name) {
  Streamed streamed;
  TokenizerJsonSax sax(streamed);
  if (!json::sax_parse(text.begin(), text.end(), &sax)) return Status::Error(name + ": " + sax.error);
  const json& j = sax.root;
  if (!j.is_object()) return Status::Error(name + ": expected a JSON object at the top level");
  const auto model_it = j.find("model");
  if (model_it == j.end() || !model_it->is_object()) return Status::Error(name + ": no \"model\" object");
  const json& model = *model_it;
  std::string type = model.value("type", "");
  if (type.empty() && model.contains("merges")) type = "BPE";  // old files omit the type
  if (type != "BPE") {
    return Status::Error(name + ": tokenizer model type '" + type +
                         "' is not supported (only BPE: SentencePiece-style with byte_fallback, or byte-level)");
  }
  if (!model.contains("vocab") || !model["vocab"].is_object() || streamed.vocab.empty()) {
    return Status::Error(name + ": model.vocab is missing or not a non-empty object");
  }
  if (model.contains("merges") && !model["merges"].is_null() && !model["merges"].is_array()) {
    return Status::Error(name + ": model.merges is not an array");
  }
  for (size_t i = 0; i < streamed.merges.size(); ++i) {
    if (streamed.merge_split[i] == 0 || streamed.merge_split[i] >= streamed.merges[i].size()) {
      return Status::Error(name + ": model.merges[" + std::to_string(i) + "] is neither \"a b\" nor [\"a\", \"b\"]");
    }
  }
  const json empty_array = json::array();
  const json& added = j.contains("added_tokens") && j["added_tokens"].is_array() ? j["added_tokens"] : empty_array;

  VocabData v;
  LEANLM_RETURN_IF_ERROR(BuildTokens(streamed, added, name, v));
  TokenIndex index(&v.tokens, v.tokens.size());
  for (size_t i = 0; i < v.tokens.size(); ++i) index.Add(static_cast<int32_t>(i));

  const json null_json;
  const json& pre_tokenizer = j.contains("pre_tokenizer") ? j["pre_tokenizer"] : null_json;
  const json& normalizer = j.contains("normalizer") ? j["normalizer"] : null_json;
  if (model.value("byte_fallback", false)) {
    v.model = "llama";
    v.pre = "default";
    v.add_space_prefix = DetectSpacePrefix(normalizer) || DetectSpacePrefix(pre_tokenizer);
    LEANLM_RETURN_IF_ERROR(SpmScoresFromMerges(streamed, index, name, v));
    v.bos_id = index.Find("<s>");
    v.eos_id = index.Find("</s>");
    v.add_bos = true;
  } else {
    PipelineSummary summary;
    Summarize(pre_tokenizer, summary);
    if (!summary.byte_level) {
      return Status::Error(name + ": a BPE model without byte_fallback needs a ByteLevel pre-tokenizer (found: " +
                           DescribePipeline(summary) + ")");
    }
    v.pre = DetectPre(summary);
    if (v.pre.empty()) {
      return Status::Error(name + ": unrecognized byte-level pre-tokenizer (" + DescribePipeline(summary) +
                           "); supported: gpt-2, llama-bpe, qwen2, starcoder, falcon, deepseek-coder, deepseek-llm");
    }
    v.model = "gpt2";
    v.add_space_prefix = false;
    v.merges = std::move(streamed.merges);  // Validate() checks that a, b and ab are tokens
    // llama.cpp's defaults for gpt2 vocabularies: no BOS except for LLaMA-3.
    v.add_bos = v.pre == "llama-bpe";
    for (const char* t : {"<|begin_of_text|>", "<|endoftext|>"}) {
      if (v.bos_id < 0) v.bos_id = index.Find(t);
    }
    for (const char* t : {"<|end_of_text|>", "<|endoftext|>"}) {
      if (v.eos_id < 0) v.eos_id = index.Find(t);
    }
  }
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    v.unk_id = index.Find(model["unk_token"].get<std::string>());
    if (v.unk_id >= 0) v.token_types[v.unk_id] = static_cast<int32_t>(TokenType::kUnknown);
  }
  if (!config_text.empty()) LEANLM_RETURN_IF_ERROR(ApplyConfig(config_text, config_name, index, v));
  if (v.add_bos && v.bos_id < 0) v.add_bos = false;
  if (v.add_eos && v.eos_id < 0) v.add_eos = false;
  LEANLM_RETURN_IF_ERROR(v.Validate(name));
  return v;
}

}  // namespace

Result<VocabData> VocabFromTokenizerJsonText(std::string_view tokenizer_json, std::string_view config_json,
                                             const std::string& name) {
  try {
    return Parse(tokenizer_json, name, config_json, name + " (tokenizer_config)");
  } catch (const json::exception& e) {
    return Status::Error(name + ": " + e.what());
  }
}

Result<VocabData> VocabFromTokenizerJson(const std::string& tokenizer_json_path,
                                         const std::string& tokenizer_config_path) {
  LEANLM_ASSIGN_OR_RETURN(std::string text, ReadTextFile(tokenizer_json_path));
  std::string config;
  if (!tokenizer_config_path.empty()) {
    auto read = ReadTextFile(tokenizer_config_path);
    if (read.ok()) config = std::move(read).value();
  }
  try {
    return Parse(text, tokenizer_json_path, config, tokenizer_config_path);
  } catch (const json::exception& e) {
    return Status::Error(tokenizer_json_path + " / " + tokenizer_config_path + ": " + e.what());
  }
}

}  // namespace leanlm
