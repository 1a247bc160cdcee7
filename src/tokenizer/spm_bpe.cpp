#include "tokenizer/spm_bpe.h"

#include <algorithm>

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

struct SpmTokenizer::Scratch {
  std::vector<Symbol> symbols;
  std::vector<Bigram> heap;  // a max-heap under BigramLess
};

Status SpmTokenizer::InitAlgorithm() {
  // Which characters occur in tokens of two or more characters that text can produce.
  in_merged_token_.assign(0x110000, false);
  for (int32_t id = 0; id < n_vocab(); ++id) {
    const std::string& t = vocab_.tokens[id];
    if (TextToken(t) != id) continue;
    const Utf8Char first = DecodeUtf8Char(t);
    if (first.kind != Utf8Char::kValid || first.length == t.size()) continue;  // one character
    for (size_t i = 0; i < t.size();) {
      const Utf8Char c = DecodeUtf8Char(std::string_view(t).substr(i));
      if (c.kind != Utf8Char::kValid) break;  // Validate() keeps tokens valid UTF-8
      in_merged_token_[c.codepoint] = true;
      i += c.length;
    }
  }
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
  if (text.size() > UINT32_MAX / 2) return;  // offsets are 32-bit; far beyond any prompt

  // A character that no multi-character token contains never merges, so
  // no merge reaches across it: the runs between such characters merge
  // independently with the same result as one pass over the whole text,
  // and the work queue stays small. Each byte of a malformed sequence is a
  // character of its own (llama.cpp trusts the lead byte's length, which
  // lets an escaped space after a stray lead byte vanish into byte tokens).
  const std::string_view all(text);
  Scratch scratch;
  size_t run_start = 0;
  for (size_t offset = 0; offset < all.size();) {
    const Utf8Char c = DecodeUtf8Char(all.substr(offset));
    const size_t len = c.kind == Utf8Char::kValid ? c.length : 1;
    if (c.kind != Utf8Char::kValid || !in_merged_token_[c.codepoint]) {
      EncodeRun(all.substr(run_start, offset - run_start), scratch, out);
      EmitPiece(all.substr(offset, len), out);
      run_start = offset + len;
    }
    offset += len;
  }
  EncodeRun(all.substr(run_start), scratch, out);
}

void SpmTokenizer::EmitPiece(std::string_view piece, std::vector<int32_t>& out) const {
  // Every merged symbol is a token; a lone character that is not one falls
  // back to byte tokens (llama.cpp's resegment reduces to this).
  const int32_t id = TextToken(piece);
  if (id >= 0) {
    out.push_back(id);
    return;
  }
  for (char c : piece) {
    const int32_t byte_id = byte_tokens_[static_cast<uint8_t>(c)];
    if (byte_id >= 0) out.push_back(byte_id);
  }
}

void SpmTokenizer::EncodeRun(std::string_view run, Scratch& scratch, std::vector<int32_t>& out) const {
  if (run.empty()) return;
  std::vector<Symbol>& symbols = scratch.symbols;
  symbols.clear();
  for (uint32_t offset = 0; offset < run.size();) {
    const Utf8Char c = DecodeUtf8Char(run.substr(offset));
    const auto len = static_cast<uint32_t>(c.kind == Utf8Char::kValid ? c.length : 1);
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({index - 1, offset + len == run.size() ? -1 : index + 1, offset, len});
    offset += len;
  }

  std::vector<Bigram>& heap = scratch.heap;
  heap.clear();
  const BigramLess less;
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const std::string_view merged = run.substr(symbols[left].offset, symbols[left].n + symbols[right].n);
    const int32_t id = TextToken(merged);
    if (id < 0) return;
    heap.push_back({vocab_.score(id), left, right, static_cast<uint32_t>(merged.size())});
    std::push_heap(heap.begin(), heap.end(), less);
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_add(i - 1, i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), less);
    const Bigram bigram = heap.back();
    heap.pop_back();
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
  for (int32_t i = 0; i != -1; i = symbols[i].next) EmitPiece(run.substr(symbols[i].offset, symbols[i].n), out);
}

}  // namespace leanlm
