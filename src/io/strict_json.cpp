#include "io/strict_json.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

namespace leanlm {
namespace {

// The deepest bracket nesting outside strings, found before parsing so a
// "[[[[..." bomb never builds a deep tree.
int MaxNesting(std::string_view text) {
  int depth = 0, max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      max_depth = std::max(max_depth, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return max_depth;
}

}  // namespace

std::string QuoteForMessage(const std::string& s) {
  std::string out = "'";
  for (unsigned char c : s.substr(0, 200)) {
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > 200) out += "...";
  return out + "'";
}

Result<nlohmann::json> ParseStrictJson(std::string_view text, const std::string& what, uint64_t base_offset,
                                       int max_depth) {
  using Json = nlohmann::json;
  if (const void* nul = std::memchr(text.data(), 0, text.size())) {
    return Status::Error(what + ": NUL byte at offset " +
                         std::to_string(base_offset + (static_cast<const char*>(nul) - text.data())));
  }
  if (MaxNesting(text) > max_depth) {
    return Status::Error(what + ": JSON nested deeper than " + std::to_string(max_depth) + " levels");
  }
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  auto callback = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == Json::parse_event_t::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (event == Json::parse_event_t::key && !open_objects.empty() && duplicate.empty()) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(key).second) duplicate = key;
    }
    return true;
  };
  try {
    Json j = Json::parse(text.begin(), text.end(), callback);
    if (!duplicate.empty()) return Status::Error(what + ": duplicate key " + QuoteForMessage(duplicate));
    return j;
  } catch (const Json::parse_error& e) {
    return Status::Error(what + ": malformed JSON near byte " + std::to_string(base_offset + e.byte) + ": " +
                         e.what());
  } catch (const std::exception& e) {
    return Status::Error(what + ": malformed JSON: " + e.what());
  }
}

}  // namespace leanlm
