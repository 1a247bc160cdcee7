// Flat open-addressing hash tables for the tokenizer's hot lookups: token
// text -> id over a vector of strings (8 bytes a slot, no per-entry
// allocation: LLaMA-3's 128k tokens fit in 2 MiB), and 64-bit key -> value
// for merge pairs. Node-based std::unordered_map spent most of the load and
// encode time on cache misses.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace leanlm {

inline uint32_t HashText(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a, then a final mix
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  return static_cast<uint32_t>(h ^ (h >> 32));
}

class TokenIndex {
 public:
  TokenIndex() = default;
  // `texts` must outlive the index and not change.
  TokenIndex(const std::vector<std::string>* texts, size_t expected) : texts_(texts) {
    size_t cap = 16;
    while (cap < expected * 2) cap <<= 1;
    slots_.assign(cap, Slot{0, -1});
  }
  // Adds texts[id]; an id whose text is already present is ignored (the first wins).
  void Add(int32_t id) {
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    const std::string& t = (*texts_)[id];
    const uint32_t h = HashText(t);
    for (size_t i = h & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      Slot& s = slots_[i];
      if (s.id < 0) {
        s = {h, id};
        ++size_;
        return;
      }
      if (s.hash == h && (*texts_)[s.id] == t) return;
    }
  }
  int32_t Find(std::string_view t) const {
    if (slots_.empty()) return -1;
    const uint32_t h = HashText(t);
    for (size_t i = h & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.hash == h && (*texts_)[s.id] == t) return s.id;
    }
  }

 private:
  struct Slot {
    uint32_t hash;
    int32_t id;  // -1: empty
  };
  void Grow() {
    std::vector<Slot> old(std::max<size_t>(16, slots_.size() * 2), Slot{0, -1});
    old.swap(slots_);
    for (const Slot& s : old) {
      if (s.id < 0) continue;
      size_t i = s.hash & (slots_.size() - 1);
      while (slots_[i].id >= 0) i = (i + 1) & (slots_.size() - 1);
      slots_[i] = s;
    }
  }
  const std::vector<std::string>* texts_ = nullptr;
  std::vector<Slot> slots_;
  size_t size_ = 0;
};

// uint64 key -> Value; keys must not be kEmpty.
template <typename Value>
class PairMap {
 public:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  explicit PairMap(size_t expected = 0) {
    size_t cap = 16;
    while (cap < expected * 2) cap <<= 1;
    slots_.assign(cap, Slot{kEmpty, Value()});
  }
  // Inserts unless the key is present (the first wins).
  void Insert(uint64_t key, const Value& value) {
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    for (size_t i = Mix(key) & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      if (slots_[i].key == kEmpty) {
        slots_[i] = {key, value};
        ++size_;
        return;
      }
      if (slots_[i].key == key) return;
    }
  }
  const Value* Find(uint64_t key) const {
    for (size_t i = Mix(key) & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      if (slots_[i].key == key) return &slots_[i].value;
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }

 private:
  static uint64_t Mix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    return k ^ (k >> 33);
  }
  struct Slot {
    uint64_t key;
    Value value;
  };
  void Grow() {
    std::vector<Slot> old(slots_.size() * 2, Slot{kEmpty, Value()});
    old.swap(slots_);
    for (const Slot& s : old) {
      if (s.key == kEmpty) continue;
      size_t i = Mix(s.key) & (slots_.size() - 1);
      while (slots_[i].key != kEmpty) i = (i + 1) & (slots_.size() - 1);
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace leanlm
