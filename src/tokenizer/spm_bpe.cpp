#include "tokenizer/spm_bpe.h"

#include <queue>

#include "tokenizer/unicode.h"

namespace leanlm {
namespace {

struct Symbol {
  int32_t prev, next;  // neighbours in the linked list, -1 at the ends
  uint32_t offset, n;  // bytes of the text; n == 0 once merged into the left neighbour
};

struct Bigram {
  float score;
  int32_t left, right;
  uint32_t size;  // bytes of the merged text when queued
};

// Highest score first; on ties the leftmost pair.
struct BigramLess {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

Status SpmTokenizer::InitAlgorithm() {
  for (int b = 0; b < 256; ++b) {
    int32_t id = TokenId(ByteTokenText(static_cast<uint8_t>(b)));
    if (id < 0) id = TextToken(std::string(1, static_cast<char>(b)));  // vocabularies without byte pieces
    if (id < 0) id = vocab_.unk_id;
    byte_tokens_[b] = id;
  }
  return Status::Ok();
}

std::string SpmTokenizer::NormalPiece(int32_t id) const {
  const std::string& text = vocab_.tokens[id];
  if (type(id) == TokenType::kByte) {
    const int byte = ParseByteToken(text);
    if (byte >= 0) return std::string(1, static_cast<char>(byte));
  }
  std::string piece;
  piece.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, kSpmSpace.size(), kSpmSpace) == 0) {
      piece += ' ';
      i += kSpmSpace.size();
    } else {
      piece += text[i++];
    }
  }
  return piece;
}

void SpmTokenizer::EncodeText(std::string_view input, bool after_special, std::vector<int32_t>& out) const {
  std::string text;
  text.reserve(input.size() + 8);
  if (vocab_.add_space_prefix && after_special) text.append(kSpmSpace);
  for (char c : input) {
    if (c == ' ') {
      text.append(kSpmSpace);
    } else {
      text += c;
    }
  }
  if (text.empty()) return;
  if (text.size() > UINT32_MAX / 2) return;  // offsets are 32-bit; far beyond any prompt

  // One symbol per UTF-8 character. Each byte of a malformed sequence is a
  // symbol of its own (llama.cpp trusts the lead byte's length, which lets
  // an escaped space after a stray lead byte vanish into byte tokens).
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  const std::string_view all(text);
  for (uint32_t offset = 0; offset < text.size();) {
    const Utf8Char c = DecodeUtf8Char(all.substr(offset));
    const auto len = static_cast<uint32_t>(c.kind == Utf8Char::kValid ? c.length : 1);
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({index - 1, offset + len == text.size() ? -1 : index + 1, offset, len});
    offset += len;
  }

  std::priority_queue<Bigram, std::vector<Bigram>, BigramLess> queue;
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const std::string_view merged = all.substr(symbols[left].offset, symbols[left].n + symbols[right].n);
    const int32_t id = TextToken(merged);
    if (id < 0) return;
    queue.push({vocab_.score(id), left, right, static_cast<uint32_t>(merged.size())});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    // Stale: one side was merged away since this pair was queued.
    if (left.n == 0 || right.n == 0 || left.n + right.n != bigram.size) continue;
    left.n += right.n;
    right.n = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    try_add(left.prev, bigram.left);
    try_add(bigram.left, left.next);
  }

  // Every merged symbol is a token; a lone character that is not one falls
  // back to byte tokens (llama.cpp's resegment reduces to this).
  for (int32_t i = 0; i != -1; i = symbols[i].next) {
    const std::string_view piece = all.substr(symbols[i].offset, symbols[i].n);
    const int32_t id = TextToken(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    for (char c : piece) {
      const int32_t byte_id = byte_tokens_[static_cast<uint8_t>(c)];
      if (byte_id >= 0) out.push_back(byte_id);
    }
  }
}

}  // namespace leanlm
