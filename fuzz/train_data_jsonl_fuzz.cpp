// Feeds arbitrary bytes as a JSONL training file (chat lines formatted as
// ChatML) through parsing, tokenization and loss masking; every sequence
// that comes out must be well formed, and no input may crash or stall.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "base/log.h"
#include "train/data.h"

namespace {

// SentencePiece-style: control tokens, the 256 byte tokens, a few letters.
std::unique_ptr<leanlm::Tokenizer> MakeTokenizer() {
  leanlm::VocabData v;
  v.model = "llama";
  auto add = [&](const std::string& text, leanlm::TokenType type) {
    v.tokens.push_back(text);
    v.token_types.push_back(static_cast<int32_t>(type));
    v.scores.push_back(-static_cast<float>(v.tokens.size()) * 0.01f);
  };
  add("<unk>", leanlm::TokenType::kUnknown);
  add("<s>", leanlm::TokenType::kControl);
  add("</s>", leanlm::TokenType::kControl);
  add("<|im_start|>", leanlm::TokenType::kControl);
  add("<|im_end|>", leanlm::TokenType::kControl);
  for (int b = 0; b < 256; ++b) add(leanlm::ByteTokenText(static_cast<uint8_t>(b)), leanlm::TokenType::kByte);
  for (const char* w : {"\xE2\x96\x81", "a", "e", "t", "th", "the", "\xE2\x96\x81the", "in", "er"}) {
    add(w, leanlm::TokenType::kNormal);
  }
  v.bos_id = 1;
  v.eos_id = 2;
  v.unk_id = 0;
  auto tokenizer = leanlm::Tokenizer::Create(std::move(v));
  if (!tokenizer.ok()) std::abort();
  return std::move(tokenizer).value();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::unique_ptr<leanlm::Tokenizer> tokenizer = MakeTokenizer();
  leanlm::SetLogLevel(leanlm::LogLevel::kError);
  const std::string_view content(reinterpret_cast<const char*>(data), size);
  for (bool skip_bad : {false, true}) {
    leanlm::DataOptions options;
    options.ctx = 16;
    options.chat_template = "chatml";
    options.skip_bad = skip_bad;
    leanlm::DataStats stats;
    auto sequences = leanlm::SequencesFromJsonl(content, "fuzz.jsonl", *tokenizer, options, &stats);
    if (!sequences.ok()) {
      if (skip_bad || sequences.status().message().rfind("fuzz.jsonl:", 0) != 0) std::abort();
      continue;
    }
    int64_t loss_tokens = 0;
    for (const leanlm::Sequence& s : sequences.value()) {
      if (s.tokens.empty() || s.tokens.size() != s.labels.size() || s.tokens.size() > 16) std::abort();
      for (size_t i = 0; i < s.tokens.size(); ++i) {
        if (s.tokens[i] < 0 || s.tokens[i] >= tokenizer->n_vocab()) std::abort();
        if (s.labels[i] < -1 || s.labels[i] >= tokenizer->n_vocab()) std::abort();
        if (s.labels[i] >= 0 && i + 1 < s.tokens.size() && s.labels[i] != s.tokens[i + 1]) std::abort();
      }
      loss_tokens += s.loss_tokens();
    }
    if (loss_tokens != stats.loss_tokens) std::abort();
  }
  return 0;
}
