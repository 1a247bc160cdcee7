// A compiled PCRE2 regular expression for user-given patterns (tensor-name
// filters). PCRE2 rather than std::regex: bounded matching (no exponential
// blow-up on hostile patterns) and error messages with the offset.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace leanlm {

class Regex {
 public:
  static Result<Regex> Compile(const std::string& pattern);
  // True when the pattern matches anywhere in text (search, not full match).
  bool Search(std::string_view text) const;
  const std::string& pattern() const { return pattern_; }

 private:
  struct Code;
  std::string pattern_;
  std::shared_ptr<Code> code_;
};

}  // namespace leanlm
