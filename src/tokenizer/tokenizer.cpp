#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <array>

#include "tokenizer/byte_bpe.h"
#include "tokenizer/spm_bpe.h"
#include "tokenizer/unicode.h"

namespace leanlm {
namespace {

// Tokens that end a turn, by text (llama.cpp's special_eog_ids heuristics).
constexpr std::array<std::string_view, 7> kEndOfGenerationTexts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>"};
// Candidates for the EOT id when the vocabulary names none, in order of preference.
constexpr std::array<std::string_view, 7> kEotTexts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>",
    "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"};  // DeepSeek's <｜end▁of▁sentence｜>

}  // namespace

// Leftmost-longest matching of special tokens: a byte trie over their texts.
struct Tokenizer::SpecialMatcher {
  struct Node {
    int32_t id = -1;  // token ending here, -1 if none
    std::vector<std::pair<uint8_t, int32_t>> children;  // sorted by byte
  };
  std::vector<Node> nodes{Node()};
  std::array<bool, 256> first_byte{};

  void Insert(std::string_view text, int32_t id) {
    int32_t node = 0;
    for (char c : text) {
      const auto byte = static_cast<uint8_t>(c);
      auto& kids = nodes[node].children;
      auto it = std::lower_bound(kids.begin(), kids.end(), std::make_pair(byte, int32_t{-1}));
      if (it == kids.end() || it->first != byte) {
        const auto child = static_cast<int32_t>(nodes.size());
        it = kids.insert(it, {byte, child});
        nodes.emplace_back();  // invalidates `kids`, not the index
        node = child;
      } else {
        node = it->second;
      }
    }
    if (nodes[node].id < 0) nodes[node].id = id;  // duplicates: the lowest id wins
    first_byte[static_cast<uint8_t>(text[0])] = true;
  }

  int32_t Child(int32_t node, uint8_t byte) const {
    const auto& kids = nodes[node].children;
    auto it = std::lower_bound(kids.begin(), kids.end(), std::make_pair(byte, int32_t{-1}));
    return it != kids.end() && it->first == byte ? it->second : -1;
  }
};

Tokenizer::Tokenizer(VocabData vocab) : vocab_(std::move(vocab)) {}
Tokenizer::~Tokenizer() = default;

Result<std::unique_ptr<Tokenizer>> Tokenizer::Create(VocabData vocab) {
  // The byte-level tokenizer checks the merges as it builds its table.
  LEANLM_RETURN_IF_ERROR(vocab.ValidateExceptMerges("vocabulary"));
  std::unique_ptr<Tokenizer> tokenizer;
  if (vocab.model == "llama") {
    tokenizer = std::make_unique<SpmTokenizer>(std::move(vocab));
  } else {
    tokenizer = std::make_unique<ByteBpeTokenizer>(std::move(vocab));
  }
  LEANLM_RETURN_IF_ERROR(tokenizer->Init());
  return tokenizer;
}

Status Tokenizer::Init() {
  const auto n = static_cast<int32_t>(vocab_.tokens.size());
  types_.resize(n);
  for (int32_t id = 0; id < n; ++id) types_[id] = vocab_.type(id);

  all_tokens_ = TokenIndex(&vocab_.tokens, n);
  for (int32_t id = 0; id < n; ++id) all_tokens_.Add(id);

  // End-of-turn tokens found by text become control tokens, as in llama.cpp.
  end_of_generation_.assign(n, false);
  for (std::string_view text : kEndOfGenerationTexts) {
    const int32_t id = TokenId(text);
    if (id < 0) continue;
    end_of_generation_[id] = true;
    types_[id] = TokenType::kControl;
  }
  if (vocab_.eot_id < 0) {
    for (std::string_view text : kEotTexts) {
      const int32_t id = TokenId(text);
      if (id >= 0) {
        vocab_.eot_id = id;
        types_[id] = TokenType::kControl;
        break;
      }
    }
  }
  if (vocab_.eos_id >= 0) end_of_generation_[vocab_.eos_id] = true;
  if (vocab_.eot_id >= 0) end_of_generation_[vocab_.eot_id] = true;

  text_tokens_ = TokenIndex(&vocab_.tokens, n);
  special_ = std::make_unique<SpecialMatcher>();
  for (int32_t id = 0; id < n; ++id) {
    const std::string& text = vocab_.tokens[id];
    if (text.empty()) continue;
    const TokenType t = types_[id];
    if (t != TokenType::kControl && t != TokenType::kUnknown && t != TokenType::kByte) {
      text_tokens_.Add(id);
    }
    if (t == TokenType::kControl || t == TokenType::kUnknown || t == TokenType::kUserDefined) {
      special_->Insert(text, id);
    }
  }

  LEANLM_RETURN_IF_ERROR(InitAlgorithm());

  pieces_.resize(n);
  for (int32_t id = 0; id < n; ++id) {
    const TokenType t = types_[id];
    const bool verbatim = t == TokenType::kControl || t == TokenType::kUnknown || t == TokenType::kUserDefined;
    pieces_[id] = verbatim ? vocab_.tokens[id] : NormalPiece(id);
  }
  return Status::Ok();
}

int32_t Tokenizer::TokenId(std::string_view text) const { return all_tokens_.Find(text); }

int32_t Tokenizer::TextToken(std::string_view text) const { return text_tokens_.Find(text); }

TokenType Tokenizer::type(int32_t id) const {
  return id >= 0 && id < n_vocab() ? types_[id] : TokenType::kUndefined;
}

bool Tokenizer::IsEndOfGeneration(int32_t id) const {
  return id >= 0 && id < n_vocab() && end_of_generation_[id];
}

std::string_view Tokenizer::Piece(int32_t id) const {
  return id >= 0 && id < n_vocab() ? std::string_view(pieces_[id]) : std::string_view();
}

bool Tokenizer::IsSpecialCandidate(int32_t id, bool parse_special) const {
  // Without parse_special only user-defined tokens are split out first.
  return parse_special || types_[id] == TokenType::kUserDefined;
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool add_special, bool parse_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special && vocab_.add_bos) out.push_back(vocab_.bos_id);

  bool after_special = true;
  size_t text_start = 0, i = 0;
  while (i < text.size()) {
    if (!special_->first_byte[static_cast<uint8_t>(text[i])]) {
      ++i;
      continue;
    }
    // Longest eligible special token starting at i.
    int32_t best_id = -1;
    size_t best_len = 0;
    int32_t node = 0;
    for (size_t j = i; j < text.size(); ++j) {
      node = special_->Child(node, static_cast<uint8_t>(text[j]));
      if (node < 0) break;
      const int32_t id = special_->nodes[node].id;
      if (id >= 0 && IsSpecialCandidate(id, parse_special)) best_id = id, best_len = j + 1 - i;
    }
    if (best_id < 0) {
      ++i;
      continue;
    }
    if (i > text_start) EncodeText(text.substr(text_start, i - text_start), after_special, out);
    out.push_back(best_id);
    after_special = true;
    i += best_len;
    text_start = i;
  }
  if (text_start < text.size()) EncodeText(text.substr(text_start), after_special, out);

  if (add_special && vocab_.add_eos) out.push_back(vocab_.eos_id);
  return out;
}

void Tokenizer::AppendDecoded(int32_t id, const DecodeOptions& options, bool& strip_space,
                              std::string& out) const {
  if (id < 0 || id >= n_vocab()) return;
  const TokenType t = types_[id];
  if (t == TokenType::kControl || t == TokenType::kUnknown || t == TokenType::kUserDefined) {
    if (t == TokenType::kUserDefined || options.render_control) out += pieces_[id];
    // Encode put a dummy-prefix space after this token.
    strip_space = true;
    return;
  }
  std::string_view piece = pieces_[id];
  if (strip_space && adds_space_prefix() && !piece.empty() && piece[0] == ' ') piece.remove_prefix(1);
  strip_space = false;
  out.append(piece);
}

std::string Tokenizer::Decode(const std::vector<int32_t>& ids, const DecodeOptions& options) const {
  std::string out;
  bool strip_space = !options.continuation;
  for (int32_t id : ids) AppendDecoded(id, options, strip_space, out);
  return out;
}

void StreamDecoder::ContinueAfter(int32_t previous) {
  const TokenType t = tokenizer_.type(previous);
  strip_space_ = previous < 0 || t == TokenType::kControl || t == TokenType::kUnknown || t == TokenType::kUserDefined;
}

std::string StreamDecoder::Push(int32_t id) {
  tokenizer_.AppendDecoded(id, options_, strip_space_, pending_);
  // Emit complete characters; hold a valid but unfinished tail; replace
  // anything that can no longer become a character.
  std::string out;
  size_t i = 0;
  while (i < pending_.size()) {
    const Utf8Char c = DecodeUtf8Char(std::string_view(pending_).substr(i));
    if (c.kind == Utf8Char::kIncomplete) break;
    if (c.kind == Utf8Char::kValid) {
      out.append(pending_, i, c.length);
    } else {
      out += "\xEF\xBF\xBD";
    }
    i += c.length;
  }
  pending_.erase(0, i);
  return out;
}

std::string StreamDecoder::Flush() {
  std::string out = SanitizeUtf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace leanlm
