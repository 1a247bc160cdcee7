// Chat templates without a Jinja engine: the template family is recognised
// from the model's Jinja source by the substring heuristics of llama.cpp's
// llm_chat_detect_template (or given by name: "chatml", "llama3", ...), and
// each family is formatted natively as llama.cpp's llm_chat_apply_template
// does. Unknown templates fall back to "role: content" lines; the result says
// so, so the caller can warn.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace leanlm {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", ...
  std::string content;
};

enum class ChatTemplateKind {
  kUnknown,
  kChatml, kLlama2, kLlama2Sys, kLlama2SysBos, kLlama2SysStrip,
  kMistralV1, kMistralV3, kMistralV3Tekken, kMistralV7,
  kPhi3, kPhi4, kFalcon3, kZephyr, kMonarch, kGemma, kOrion, kOpenchat, kVicuna, kVicunaOrca,
  kDeepseek, kDeepseek2, kDeepseek3, kCommandR, kLlama3, kChatglm3, kChatglm4, kGlmEdge, kMinicpm,
  kExaone3, kRwkvWorld, kGranite, kGigachat, kMegrez,
};

// The family named exactly `name` ("chatml", "llama2-sys", ...), or kUnknown.
ChatTemplateKind ChatTemplateFromName(std::string_view name);
// The family of a template given by name or by its Jinja source, or kUnknown.
ChatTemplateKind DetectChatTemplate(std::string_view name_or_source);
// The name of a family ("" for kUnknown).
std::string_view ChatTemplateName(ChatTemplateKind kind);
// All names, sorted.
std::vector<std::string_view> ChatTemplateNames();

// Formats a conversation; add_generation_prompt opens the assistant's turn
// (for the families that have one). kUnknown gives "role: content" lines.
std::string FormatChat(ChatTemplateKind kind, const std::vector<ChatMessage>& messages, bool add_generation_prompt);

struct FormattedChat {
  std::string prompt;
  ChatTemplateKind kind = ChatTemplateKind::kUnknown;
  bool known() const { return kind != ChatTemplateKind::kUnknown; }
};
FormattedChat FormatChat(std::string_view name_or_source, const std::vector<ChatMessage>& messages,
                         bool add_generation_prompt);

// The text to feed for one more message in an ongoing chat: the format of
// past + new_message minus the format of past. When the past ends with a
// newline the model never saw (it stopped at the end-of-turn token before
// it), the newline is repeated first, as llama.cpp's common_chat_format_single does.
std::string FormatChatIncrement(ChatTemplateKind kind, const std::vector<ChatMessage>& past,
                                const ChatMessage& new_message, bool add_generation_prompt);

}  // namespace leanlm
