#include "tokenizer/chat_template.h"

#include <algorithm>
#include <cctype>
#include <utility>

namespace leanlm {
namespace {

using K = ChatTemplateKind;

constexpr std::pair<std::string_view, ChatTemplateKind> kNames[] = {
    {"chatml", K::kChatml},
    {"llama2", K::kLlama2},
    {"llama2-sys", K::kLlama2Sys},
    {"llama2-sys-bos", K::kLlama2SysBos},
    {"llama2-sys-strip", K::kLlama2SysStrip},
    {"mistral-v1", K::kMistralV1},
    {"mistral-v3", K::kMistralV3},
    {"mistral-v3-tekken", K::kMistralV3Tekken},
    {"mistral-v7", K::kMistralV7},
    {"phi3", K::kPhi3},
    {"phi4", K::kPhi4},
    {"falcon3", K::kFalcon3},
    {"zephyr", K::kZephyr},
    {"monarch", K::kMonarch},
    {"gemma", K::kGemma},
    {"orion", K::kOrion},
    {"openchat", K::kOpenchat},
    {"vicuna", K::kVicuna},
    {"vicuna-orca", K::kVicunaOrca},
    {"deepseek", K::kDeepseek},
    {"deepseek2", K::kDeepseek2},
    {"deepseek3", K::kDeepseek3},
    {"command-r", K::kCommandR},
    {"llama3", K::kLlama3},
    {"chatglm3", K::kChatglm3},
    {"chatglm4", K::kChatglm4},
    {"glmedge", K::kGlmEdge},
    {"minicpm", K::kMinicpm},
    {"exaone3", K::kExaone3},
    {"rwkv-world", K::kRwkvWorld},
    {"granite", K::kGranite},
    {"gigachat", K::kGigachat},
    {"megrez", K::kMegrez},
};

// Python's str.strip() on ASCII whitespace, as llama.cpp's trim().
std::string Trim(std::string_view s) {
  size_t begin = 0, end = s.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(s[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(s[end - 1]))) --end;
  return std::string(s.substr(begin, end - begin));
}

void FormatMistral(K kind, const std::vector<ChatMessage>& messages, std::string& out) {
  if (kind == K::kMistralV7) {
    for (const auto& m : messages) {
      if (m.role == "system") {
        out += "[SYSTEM_PROMPT] " + m.content + "[/SYSTEM_PROMPT]";
      } else if (m.role == "user") {
        out += "[INST] " + m.content + "[/INST]";
      } else {
        out += " " + m.content + "</s>";
      }
    }
    return;
  }
  const std::string leading = kind == K::kMistralV1 ? " " : "";
  const std::string trailing = kind == K::kMistralV3Tekken ? "" : " ";
  const bool trim_assistant = kind == K::kMistralV3;
  bool inside_turn = false;
  for (const auto& m : messages) {
    if (!inside_turn) {
      out += leading + "[INST]" + trailing;
      inside_turn = true;
    }
    if (m.role == "system") {
      out += m.content + "\n\n";
    } else if (m.role == "user") {
      out += m.content + leading + "[/INST]";
    } else {
      out += trailing + (trim_assistant ? Trim(m.content) : m.content) + "</s>";
      inside_turn = false;
    }
  }
}

void FormatLlama2(K kind, const std::vector<ChatMessage>& messages, std::string& out) {
  const bool system_block = kind != K::kLlama2;
  const bool bos_in_history = kind == K::kLlama2SysBos;
  const bool strip = kind == K::kLlama2SysStrip;
  bool inside_turn = true;  // the first [INST] is written here; BOS comes from the tokenizer
  out += "[INST] ";
  for (const auto& m : messages) {
    const std::string content = strip ? Trim(m.content) : m.content;
    if (!inside_turn) {
      inside_turn = true;
      out += bos_in_history ? "<s>[INST] " : "[INST] ";
    }
    if (m.role == "system") {
      // Without <<SYS>> support the system text still opens the first turn.
      out += system_block ? "<<SYS>>\n" + content + "\n<</SYS>>\n\n" : content + "\n";
    } else if (m.role == "user") {
      out += content + " [/INST]";
    } else {
      out += content + "</s>";
      inside_turn = false;
    }
  }
}

void FormatGemma(const std::vector<ChatMessage>& messages, bool gen, std::string& out) {
  std::string system;  // Gemma has no system turn: it goes into the next user turn
  for (const auto& m : messages) {
    if (m.role == "system") {
      system = Trim(m.content);
      continue;
    }
    const std::string role = m.role == "assistant" ? "model" : m.role;
    out += "<start_of_turn>" + role + "\n";
    if (!system.empty() && role != "model") {
      out += system + "\n\n";
      system.clear();
    }
    out += Trim(m.content) + "<end_of_turn>\n";
  }
  if (gen) out += "<start_of_turn>model\n";
}

}  // namespace

ChatTemplateKind ChatTemplateFromName(std::string_view name) {
  for (const auto& [n, kind] : kNames) {
    if (n == name) return kind;
  }
  return K::kUnknown;
}

std::string_view ChatTemplateName(ChatTemplateKind kind) {
  for (const auto& [n, k] : kNames) {
    if (k == kind) return n;
  }
  return "";
}

std::vector<std::string_view> ChatTemplateNames() {
  std::vector<std::string_view> names;
  for (const auto& entry : kNames) names.push_back(entry.first);
  std::sort(names.begin(), names.end());
  return names;
}

ChatTemplateKind DetectChatTemplate(std::string_view t) {
  if (const K named = ChatTemplateFromName(t); named != K::kUnknown) return named;
  auto has = [&](std::string_view s) { return t.find(s) != std::string_view::npos; };
  if (has("<|im_start|>")) return has("<|im_sep|>") ? K::kPhi4 : K::kChatml;
  if (t.substr(0, 7) == "mistral" || has("[INST]")) {
    if (has("[SYSTEM_PROMPT]")) return K::kMistralV7;
    // Official Mistral v1 / v3 / v3-tekken templates.
    if (has("' [INST] ' + system_message") || has("[AVAILABLE_TOOLS]")) {
      if (has(" [INST]")) return K::kMistralV1;
      if (has("\"[INST]\"")) return K::kMistralV3Tekken;
      return K::kMistralV3;
    }
    // LLaMA-2 and its variants.
    if (has("content.strip()")) return K::kLlama2SysStrip;
    if (has("bos_token + '[INST]")) return K::kLlama2SysBos;
    if (has("<<SYS>>")) return K::kLlama2Sys;
    return K::kLlama2;
  }
  if (has("<|assistant|>") && has("<|end|>")) return K::kPhi3;
  if (has("<|assistant|>") && has("<|user|>")) return has("</s>") ? K::kFalcon3 : K::kGlmEdge;
  if (has("<|user|>") && has("<|endoftext|>")) return K::kZephyr;
  if (has("bos_token + message['role']")) return K::kMonarch;
  if (has("<start_of_turn>")) return K::kGemma;
  if (has("'\\n\\nAssistant: ' + eos_token")) return K::kOrion;
  if (has("GPT4 Correct ")) return K::kOpenchat;
  if (has("USER: ") && has("ASSISTANT: ")) return has("SYSTEM: ") ? K::kVicunaOrca : K::kVicuna;
  if (has("### Instruction:") && has("<|EOT|>")) return K::kDeepseek;
  if (has("<|START_OF_TURN_TOKEN|>") && has("<|USER_TOKEN|>")) return K::kCommandR;
  if (has("<|start_header_id|>") && has("<|end_header_id|>")) return K::kLlama3;
  if (has("[gMASK]sop")) return K::kChatglm3;
  if (has("[gMASK]<sop>")) return K::kChatglm4;
  if (has("<\xE7\x94\xA8\xE6\x88\xB7>")) return K::kMinicpm;  // <用户>
  if (has("'Assistant: ' + message['content'] + eos_token")) return K::kDeepseek2;
  if (has("<\xEF\xBD\x9C" "Assistant\xEF\xBD\x9C>") && has("<\xEF\xBD\x9C" "User\xEF\xBD\x9C>") &&
      has("<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>")) {
    return K::kDeepseek3;  // <｜Assistant｜>, <｜User｜>, <｜end▁of▁sentence｜>
  }
  if (has("[|system|]") && has("[|assistant|]") && has("[|endofturn|]")) return K::kExaone3;
  if (has("rwkv-world")) return K::kRwkvWorld;
  if (has("<|start_of_role|>")) return K::kGranite;
  if (has("message['role'] + additional_special_tokens[0] + message['content'] + additional_special_tokens[1]")) {
    return K::kGigachat;
  }
  if (has("<|role_start|>")) return K::kMegrez;
  return K::kUnknown;
}

std::string FormatChat(ChatTemplateKind kind, const std::vector<ChatMessage>& messages, bool gen) {
  std::string out;
  switch (kind) {
    case K::kChatml:
      for (const auto& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      if (gen) out += "<|im_start|>assistant\n";
      break;
    case K::kMistralV1:
    case K::kMistralV3:
    case K::kMistralV3Tekken:
    case K::kMistralV7:
      FormatMistral(kind, messages, out);
      break;
    case K::kLlama2:
    case K::kLlama2Sys:
    case K::kLlama2SysBos:
    case K::kLlama2SysStrip:
      FormatLlama2(kind, messages, out);
      break;
    case K::kPhi3:
      for (const auto& m : messages) out += "<|" + m.role + "|>\n" + m.content + "<|end|>\n";
      if (gen) out += "<|assistant|>\n";
      break;
    case K::kPhi4:
      for (const auto& m : messages) out += "<|im_start|>" + m.role + "<|im_sep|>" + m.content + "<|im_end|>";
      if (gen) out += "<|im_start|>assistant<|im_sep|>";
      break;
    case K::kFalcon3:
      for (const auto& m : messages) out += "<|" + m.role + "|>\n" + m.content + "\n";
      if (gen) out += "<|assistant|>\n";
      break;
    case K::kZephyr:
      for (const auto& m : messages) out += "<|" + m.role + "|>\n" + m.content + "<|endoftext|>\n";
      if (gen) out += "<|assistant|>\n";
      break;
    case K::kMonarch:
      for (size_t i = 0; i < messages.size(); ++i) {
        // BOS opens every message but the first (the tokenizer adds that one).
        out += (i == 0 ? "" : "<s>") + messages[i].role + "\n" + messages[i].content + "</s>\n";
      }
      if (gen) out += "<s>assistant\n";
      break;
    case K::kGemma:
      FormatGemma(messages, gen, out);
      break;
    case K::kOrion: {
      std::string system;  // merged into the next user message
      for (const auto& m : messages) {
        if (m.role == "system") {
          system = m.content;
        } else if (m.role == "user") {
          out += "Human: ";
          if (!system.empty()) out += system + "\n\n", system.clear();
          out += m.content + "\n\nAssistant: </s>";
        } else {
          out += m.content + "</s>";
        }
      }
      break;
    }
    case K::kOpenchat:
      for (const auto& m : messages) {
        if (m.role == "system") {
          out += m.content + "<|end_of_turn|>";
        } else {
          std::string role = m.role;
          if (!role.empty()) role[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(role[0])));
          out += "GPT4 Correct " + role + ": " + m.content + "<|end_of_turn|>";
        }
      }
      if (gen) out += "GPT4 Correct Assistant:";
      break;
    case K::kVicuna:
    case K::kVicunaOrca:
      for (const auto& m : messages) {
        if (m.role == "system") {
          out += kind == K::kVicunaOrca ? "SYSTEM: " + m.content + "\n" : m.content + "\n\n";
        } else if (m.role == "user") {
          out += "USER: " + m.content + "\n";
        } else if (m.role == "assistant") {
          out += "ASSISTANT: " + m.content + "</s>\n";
        }
      }
      if (gen) out += "ASSISTANT:";
      break;
    case K::kDeepseek:
      for (const auto& m : messages) {
        if (m.role == "system") {
          out += m.content;
        } else if (m.role == "user") {
          out += "### Instruction:\n" + m.content + "\n";
        } else if (m.role == "assistant") {
          out += "### Response:\n" + m.content + "\n<|EOT|>\n";
        }
      }
      if (gen) out += "### Response:\n";
      break;
    case K::kCommandR:
      for (const auto& m : messages) {
        const char* turn = m.role == "system" ? "<|SYSTEM_TOKEN|>"
                           : m.role == "user" ? "<|USER_TOKEN|>"
                           : m.role == "assistant" ? "<|CHATBOT_TOKEN|>" : nullptr;
        if (turn) out += std::string("<|START_OF_TURN_TOKEN|>") + turn + Trim(m.content) + "<|END_OF_TURN_TOKEN|>";
      }
      if (gen) out += "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>";
      break;
    case K::kLlama3:
      for (const auto& m : messages) {
        out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + Trim(m.content) + "<|eot_id|>";
      }
      if (gen) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      break;
    case K::kChatglm3:
    case K::kChatglm4:
      out += kind == K::kChatglm3 ? "[gMASK]sop" : "[gMASK]<sop>";
      for (const auto& m : messages) out += "<|" + m.role + "|>" + (kind == K::kChatglm3 ? "\n " : "\n") + m.content;
      if (gen) out += "<|assistant|>";
      break;
    case K::kGlmEdge:
      for (const auto& m : messages) out += "<|" + m.role + "|>\n" + m.content;
      if (gen) out += "<|assistant|>";
      break;
    case K::kMinicpm:
      for (const auto& m : messages) {
        out += m.role == "user" ? "<\xE7\x94\xA8\xE6\x88\xB7>" + Trim(m.content) + "<AI>" : Trim(m.content);
      }
      break;
    case K::kDeepseek2:
      for (const auto& m : messages) {
        if (m.role == "system") {
          out += m.content + "\n\n";
        } else if (m.role == "user") {
          out += "User: " + m.content + "\n\n";
        } else if (m.role == "assistant") {
          out += "Assistant: " + m.content + "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>";
        }
      }
      if (gen) out += "Assistant:";
      break;
    case K::kDeepseek3:
      for (const auto& m : messages) {
        if (m.role == "system") {
          out += m.content + "\n\n";
        } else if (m.role == "user") {
          out += "<\xEF\xBD\x9CUser\xEF\xBD\x9C>" + m.content;
        } else if (m.role == "assistant") {
          out += "<\xEF\xBD\x9C" "Assistant\xEF\xBD\x9C>" + m.content +
                 "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>";
        }
      }
      if (gen) out += "<\xEF\xBD\x9C" "Assistant\xEF\xBD\x9C>";
      break;
    case K::kExaone3:
      for (const auto& m : messages) {
        if (m.role == "system") {
          out += "[|system|]" + Trim(m.content) + "[|endofturn|]\n";
        } else if (m.role == "user") {
          out += "[|user|]" + Trim(m.content) + "\n";
        } else if (m.role == "assistant") {
          out += "[|assistant|]" + Trim(m.content) + "[|endofturn|]\n";
        }
      }
      if (gen) out += "[|assistant|]";
      break;
    case K::kRwkvWorld:
      for (const auto& m : messages) {
        out += m.role == "user" ? "User: " + m.content + "\n\nAssistant:" : m.content + "\n\n";
      }
      break;
    case K::kGranite:
      for (const auto& m : messages) {
        out += "<|start_of_role|>" + m.role + "<|end_of_role|>";
        if (m.role == "assistant_tool_call") out += "<|tool_call|>";
        out += m.content + "<|end_of_text|>\n";
      }
      if (gen) out += "<|start_of_role|>assistant<|end_of_role|>\n";
      break;
    case K::kGigachat: {
      const bool has_system = !messages.empty() && messages[0].role == "system";
      out += has_system ? "<s>" + messages[0].content + "<|message_sep|>" : "<s>";
      for (size_t i = has_system ? 1 : 0; i < messages.size(); ++i) {
        const auto& m = messages[i];
        if (m.role == "user") {
          out += "user<|role_sep|>" + m.content + "<|message_sep|>available functions<|role_sep|>[]<|message_sep|>";
        } else if (m.role == "assistant") {
          out += "assistant<|role_sep|>" + m.content + "<|message_sep|>";
        }
      }
      if (gen) out += "assistant<|role_sep|>";
      break;
    }
    case K::kMegrez:
      for (const auto& m : messages) out += "<|role_start|>" + m.role + "<|role_end|>" + m.content + "<|turn_end|>";
      if (gen) out += "<|role_start|>assistant<|role_end|>";
      break;
    case K::kUnknown:
      for (const auto& m : messages) out += m.role + ": " + m.content + "\n";
      if (gen) out += "assistant:";
      break;
  }
  return out;
}

FormattedChat FormatChat(std::string_view name_or_source, const std::vector<ChatMessage>& messages,
                         bool add_generation_prompt) {
  FormattedChat f;
  f.kind = DetectChatTemplate(name_or_source);
  f.prompt = FormatChat(f.kind, messages, add_generation_prompt);
  return f;
}

std::string FormatChatIncrement(ChatTemplateKind kind, const std::vector<ChatMessage>& past,
                                const ChatMessage& new_message, bool add_generation_prompt) {
  const std::string before = past.empty() ? std::string() : FormatChat(kind, past, false);
  std::vector<ChatMessage> all = past;
  all.push_back(new_message);
  const std::string after = FormatChat(kind, all, add_generation_prompt);
  std::string out;
  if (add_generation_prompt && !before.empty() && before.back() == '\n') out += "\n";
  // As llama.cpp: the past is taken to format as a prefix of the whole.
  if (after.size() >= before.size()) out.append(after, before.size(), std::string::npos);
  return out;
}

}  // namespace leanlm
