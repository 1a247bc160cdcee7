#include "tokenizer/unicode.h"

#include <array>

namespace leanlm {

Utf8Char DecodeUtf8Char(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t c0 = b(0);
  if (c0 < 0x80) return {Utf8Char::kValid, 1, c0};
  size_t need;
  uint32_t cp;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c0 >= 0xC2 && c0 <= 0xDF) {
    need = 1, cp = c0 & 0x1F;
  } else if (c0 >= 0xE0 && c0 <= 0xEF) {
    need = 2, cp = c0 & 0x0F;
    if (c0 == 0xE0) lo = 0xA0;  // no overlong forms
    if (c0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (c0 >= 0xF0 && c0 <= 0xF4) {
    need = 3, cp = c0 & 0x07;
    if (c0 == 0xF0) lo = 0x90;
    if (c0 == 0xF4) hi = 0x8F;  // <= U+10FFFF
  } else {
    return {Utf8Char::kInvalid, 1, 0};
  }
  for (size_t i = 1; i <= need; ++i) {
    if (i >= s.size()) return {Utf8Char::kIncomplete, i, 0};
    const uint8_t c = b(i);
    const uint8_t min = i == 1 ? lo : 0x80, max = i == 1 ? hi : 0xBF;
    if (c < min || c > max) return {Utf8Char::kInvalid, i, 0};
    cp = (cp << 6) | (c & 0x3F);
  }
  return {Utf8Char::kValid, need + 1, cp};
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const Utf8Char c = DecodeUtf8Char(s.substr(i));
    if (c.kind != Utf8Char::kValid) return false;
    i += c.length;
  }
  return true;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string SanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const Utf8Char c = DecodeUtf8Char(s.substr(i));
    if (c.kind == Utf8Char::kValid) {
      out.append(s.substr(i, c.length));
    } else {
      out += "\xEF\xBF\xBD";
    }
    i += c.length;
  }
  return out;
}

namespace {

// Byte -> code point of the GPT-2 byte-level alphabet (bytes_to_unicode()).
constexpr std::array<uint16_t, 256> MakeByteToCodepoint() {
  std::array<uint16_t, 256> table{};
  uint16_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    table[b] = printable ? static_cast<uint16_t>(b) : next++;
  }
  return table;
}
constexpr std::array<uint16_t, 256> kByteToCodepoint = MakeByteToCodepoint();

// UTF-8 of each mapped code point (all < U+0144, so at most 2 bytes).
struct ByteLevelStrings {
  char bytes[256][3];
  uint8_t len[256];
};
constexpr ByteLevelStrings MakeByteLevelStrings() {
  ByteLevelStrings t{};
  for (int b = 0; b < 256; ++b) {
    const uint16_t cp = kByteToCodepoint[b];
    if (cp < 0x80) {
      t.bytes[b][0] = static_cast<char>(cp);
      t.len[b] = 1;
    } else {
      t.bytes[b][0] = static_cast<char>(0xC0 | (cp >> 6));
      t.bytes[b][1] = static_cast<char>(0x80 | (cp & 0x3F));
      t.len[b] = 2;
    }
  }
  return t;
}
constexpr ByteLevelStrings kByteLevelStrings = MakeByteLevelStrings();

constexpr std::array<int16_t, 0x144> MakeCodepointToByte() {
  std::array<int16_t, 0x144> table{};
  for (auto& v : table) v = -1;
  for (int b = 0; b < 256; ++b) table[kByteToCodepoint[b]] = static_cast<int16_t>(b);
  return table;
}
constexpr std::array<int16_t, 0x144> kCodepointToByte = MakeCodepointToByte();

}  // namespace

std::string_view ByteToByteLevel(uint8_t byte) {
  return std::string_view(kByteLevelStrings.bytes[byte], kByteLevelStrings.len[byte]);
}

int ByteLevelToByte(uint32_t codepoint) {
  return codepoint < kCodepointToByte.size() ? kCodepointToByte[codepoint] : -1;
}

void AppendByteLevel(std::string& out, std::string_view bytes) {
  for (char c : bytes) out.append(ByteToByteLevel(static_cast<uint8_t>(c)));
}

bool DecodeByteLevel(std::string_view text, std::string& out) {
  size_t i = 0;
  while (i < text.size()) {
    const Utf8Char c = DecodeUtf8Char(text.substr(i));
    if (c.kind != Utf8Char::kValid) return false;
    const int byte = ByteLevelToByte(c.codepoint);
    if (byte < 0) return false;
    out += static_cast<char>(byte);
    i += c.length;
  }
  return true;
}

}  // namespace leanlm
