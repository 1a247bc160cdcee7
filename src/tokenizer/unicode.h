// UTF-8 helpers and GPT-2's byte <-> printable-character mapping, shared by
// the tokenizers and the vocabulary loaders. Text is always raw bytes in a
// std::string / string_view; nothing here allocates except the Append* calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace leanlm {

// Length of the UTF-8 sequence a lead byte announces; 1 for continuation and
// invalid bytes (llama.cpp's unicode_len_utf8: a malformed byte is one symbol).
inline size_t Utf8SeqLen(uint8_t lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

// Status of the bytes at the start of `s`: a complete valid character (its
// length), a valid prefix that needs more bytes, or an invalid sequence (the
// length of its maximal invalid subpart, >= 1; Unicode's "U+FFFD substitution
// of maximal subparts").
struct Utf8Char {
  enum Kind { kValid, kIncomplete, kInvalid } kind;
  size_t length;
  uint32_t codepoint;  // valid only for kValid
};
Utf8Char DecodeUtf8Char(std::string_view s);

bool IsValidUtf8(std::string_view s);
void AppendUtf8(std::string& out, uint32_t codepoint);
// Copies `s`, replacing each maximal invalid subpart (and a truncated tail) by U+FFFD.
std::string SanitizeUtf8(std::string_view s);

// GPT-2 byte-level alphabet: every byte maps to one printable code point
// (bytes 0x21-0x7E, 0xA1-0xAC, 0xAE-0xFF map to themselves, the other 68 to
// U+0100..U+0143 in order).
std::string_view ByteToByteLevel(uint8_t byte);  // UTF-8 of the mapped code point
int ByteLevelToByte(uint32_t codepoint);         // -1 if the code point is not in the alphabet
void AppendByteLevel(std::string& out, std::string_view bytes);
// Decodes byte-level text back to bytes; false if it holds a character outside the alphabet.
bool DecodeByteLevel(std::string_view text, std::string& out);

// SentencePiece's whitespace marker U+2581 "▁".
inline constexpr std::string_view kSpmSpace = "\xE2\x96\x81";

}  // namespace leanlm
