// Parsing untrusted JSON (safetensors headers, config.json, index files)
// strictly: no duplicate keys in any object (nlohmann keeps the last one
// silently), no raw NUL (nlohmann stops reading there), bounded nesting, and
// no exception escaping. Only nlohmann's forward declarations here: a .cpp
// that calls this includes <nlohmann/json.hpp> itself (it is slow to compile).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"

namespace leanlm {

// `what` starts every message ("model.safetensors: header"); `base_offset`
// is added to byte positions so they are offsets in the file.
Result<nlohmann::json> ParseStrictJson(std::string_view text, const std::string& what, uint64_t base_offset = 0,
                                       int max_depth = 64);

// A string for messages: control bytes escaped, long strings cut.
std::string QuoteForMessage(const std::string& s);

}  // namespace leanlm
