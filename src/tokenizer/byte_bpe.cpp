#include "tokenizer/byte_bpe.h"

#include <algorithm>

#include "tokenizer/unicode.h"

namespace leanlm {
namespace {

struct Symbol {
  int32_t prev, next;  // neighbours in the linked list, -1 at the ends
  int32_t id;          // token id, -1 for a byte the vocabulary lacks, -2 once merged away
};

struct Bigram {
  int32_t rank;
  int32_t left, right;
  int32_t left_id, right_id, result;
};

// Lowest rank first; on ties the leftmost pair.
struct BigramGreater {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

struct ByteBpeTokenizer::Scratch {
  std::vector<std::string_view> pieces;
  std::vector<Symbol> symbols;
  std::vector<Bigram> heap;  // a min-heap under BigramGreater
  std::string encoded;
};

ByteBpeTokenizer::ByteBpeTokenizer(VocabData vocab) : Tokenizer(std::move(vocab)) {}
ByteBpeTokenizer::~ByteBpeTokenizer() = default;

Status ByteBpeTokenizer::InitAlgorithm() {
  auto pre = PreTokenizer::Create(vocab_.pre);
  if (!pre.ok()) return pre.status();
  pre_ = std::move(pre).value();

  for (int b = 0; b < 256; ++b) byte_tokens_[b] = TextToken(ByteToByteLevel(static_cast<uint8_t>(b)));

  merges_ = PairMap<Merge>(vocab_.merges.size());
  std::string joined;
  for (size_t rank = 0; rank < vocab_.merges.size(); ++rank) {
    const std::string& merge = vocab_.merges[rank];
    // As llama.cpp: the separator is the first space after the first byte.
    const size_t space = merge.size() > 1 ? merge.find(' ', 1) : std::string::npos;
    if (space == std::string::npos || space + 1 >= merge.size()) {
      return Status::Error("vocabulary: merge " + std::to_string(rank) + " is not two tokens separated by a space");
    }
    const std::string_view left(merge.data(), space), right(merge.data() + space + 1, merge.size() - space - 1);
    joined.assign(left).append(right);
    const int32_t left_id = TextToken(left), right_id = TextToken(right), result = TextToken(joined);
    if (left_id < 0 || right_id < 0 || result < 0) {
      for (std::string_view part : {left, right, std::string_view(joined)}) {
        if (TokenId(part) < 0) {
          return Status::Error("vocabulary: merge " + std::to_string(rank) + " refers to '" +
                               std::string(part.substr(0, 40)) + "', which is not in the vocabulary");
        }
      }
      continue;  // involves a control/byte token, which text never produces: nothing to merge
    }
    merges_.Insert(PairKey(left_id, right_id), Merge{static_cast<int32_t>(rank), result});  // first rank wins
  }
  return Status::Ok();
}

std::string ByteBpeTokenizer::NormalPiece(int32_t id) const {
  const std::string& text = vocab_.tokens[id];
  if (type(id) == TokenType::kByte) {
    const int byte = ParseByteToken(text);
    if (byte >= 0) return std::string(1, static_cast<char>(byte));
  }
  std::string bytes;
  if (DecodeByteLevel(text, bytes)) return bytes;
  return text;  // not byte-level text: take it literally
}

void ByteBpeTokenizer::EncodeText(std::string_view text, bool /*after_special*/, std::vector<int32_t>& out) const {
  Scratch scratch;
  pre_->Split(text, scratch.pieces);
  for (std::string_view piece : scratch.pieces) EncodePiece(piece, scratch, out);
}

void ByteBpeTokenizer::EncodePiece(std::string_view piece, Scratch& scratch, std::vector<int32_t>& out) const {
  if (pre_->ignore_merges()) {
    scratch.encoded.clear();
    AppendByteLevel(scratch.encoded, piece);
    const int32_t id = TextToken(scratch.encoded);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }

  std::vector<Symbol>& symbols = scratch.symbols;
  symbols.resize(piece.size());
  std::vector<Bigram>& heap = scratch.heap;
  heap.clear();
  const BigramGreater greater;
  const auto n = static_cast<int32_t>(piece.size());
  for (int32_t i = 0; i < n; ++i) {
    symbols[i] = {i - 1, i + 1 < n ? i + 1 : -1, byte_tokens_[static_cast<uint8_t>(piece[i])]};
  }
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const int32_t left_id = symbols[left].id, right_id = symbols[right].id;
    if (left_id < 0 || right_id < 0) return;
    const Merge* merge = merges_.Find(PairKey(left_id, right_id));
    if (merge == nullptr) return;
    heap.push_back({merge->rank, left, right, left_id, right_id, merge->result});
    std::push_heap(heap.begin(), heap.end(), greater);
  };
  for (int32_t i = 0; i + 1 < n; ++i) try_add(i, i + 1);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), greater);
    const Bigram bigram = heap.back();
    heap.pop_back();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    // Stale: either side changed (or vanished) since this pair was queued.
    if (left.id != bigram.left_id || right.id != bigram.right_id || left.next != bigram.right) continue;
    left.id = bigram.result;
    right.id = -2;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    try_add(left.prev, bigram.left);
    try_add(bigram.left, left.next);
  }

  for (int32_t i = 0; i != -1; i = symbols[i].next) {
    const int32_t id = symbols[i].id >= 0 ? symbols[i].id : vocab_.unk_id;
    if (id >= 0) out.push_back(id);
  }
}

}  // namespace leanlm
