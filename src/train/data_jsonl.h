// One line of a JSONL training file, parsed and checked. Three shapes:
//   {"text": "..."}                                  plain text, loss on every token
//   {"prompt": "...", "completion": "..."}           loss on the completion only
//   {"messages": [{"role": "...", "content": "..."}, ...]}   loss on assistant turns only
// Other keys (ids, metadata) are ignored; a line holding two of the shapes is
// ambiguous and rejected. Every line is untrusted: size and nesting are
// bounded, and an error names the place ("data.jsonl:17") and what is wrong.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tokenizer/chat_template.h"

namespace leanlm {

inline constexpr size_t kMaxJsonlLineBytes = size_t{16} << 20;
inline constexpr size_t kMaxChatMessages = 4096;

struct JsonlExample {
  enum class Kind { kText, kPromptCompletion, kMessages };
  Kind kind = Kind::kText;
  std::string text;                   // kText
  std::string prompt, completion;     // kPromptCompletion
  std::vector<ChatMessage> messages;  // kMessages; at least one assistant turn
};

// `where` starts every error message (file:line).
Result<JsonlExample> ParseJsonlExample(std::string_view line, const std::string& where);

// Whether a line holds only spaces, tabs and CR (skipped, not an error).
bool IsBlankLine(std::string_view line);

}  // namespace leanlm
