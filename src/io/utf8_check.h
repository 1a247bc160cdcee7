// Strict UTF-8 validation for untrusted strings (GGUF keys and values):
// rejects overlong forms, surrogates, code points above U+10FFFF and
// truncated sequences, as llama.cpp's loaders expect valid UTF-8.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace leanlm {

// Returns the byte offset of the first invalid sequence, or s.size() when
// the whole string is valid.
inline size_t FindInvalidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;  // continuation byte, 0xc0/0xc1 (overlong) or > 0xf4
    }
    if (n - i < len) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return i;  // overlong
    if (cp >= 0xd800 && cp <= 0xdfff) return i;                              // surrogate
    if (cp > 0x10ffff) return i;
    i += len;
  }
  return n;
}

inline bool IsValidUtf8(std::string_view s) { return FindInvalidUtf8(s) == s.size(); }

}  // namespace leanlm
