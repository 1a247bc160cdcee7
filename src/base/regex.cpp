#include "base/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace leanlm {

struct Regex::Code {
  pcre2_code* code = nullptr;
  pcre2_match_context* context = nullptr;
  ~Code() {
    pcre2_match_context_free(context);
    pcre2_code_free(code);
  }
};

Result<Regex> Regex::Compile(const std::string& pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  auto code = std::make_shared<Code>();
  code->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF, &error, &offset,
                             nullptr);
  if (!code->code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    return Status::Error("regular expression '" + pattern + "' does not compile at offset " + std::to_string(offset) +
                         ": " + reinterpret_cast<const char*>(message));
  }
  code->context = pcre2_match_context_create(nullptr);
  pcre2_set_match_limit(code->context, 1000000);  // a hostile pattern fails instead of hanging
  Regex regex;
  regex.pattern_ = pattern;
  regex.code_ = std::move(code);
  return regex;
}

bool Regex::Search(std::string_view text) const {
  pcre2_match_data* match = pcre2_match_data_create_from_pattern(code_->code, nullptr);
  const int rc = pcre2_match(code_->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0, 0, match,
                             code_->context);
  pcre2_match_data_free(match);
  return rc >= 0;
}

}  // namespace leanlm
