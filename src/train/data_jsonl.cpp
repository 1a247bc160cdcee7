#include "train/data_jsonl.h"

#include <nlohmann/json.hpp>

#include "io/strict_json.h"

namespace leanlm {
namespace {

using Json = nlohmann::json;

Result<std::string> StringField(const Json& object, const char* key, const std::string& where) {
  const Json& v = object.at(key);
  if (!v.is_string()) {
    return Status::Error(where + ": \"" + key + "\" must be a string, found " + std::string(v.type_name()));
  }
  return v.get<std::string>();
}

Result<std::vector<ChatMessage>> ParseMessages(const Json& array, const std::string& where) {
  if (!array.is_array()) {
    return Status::Error(where + ": \"messages\" must be an array, found " + std::string(array.type_name()));
  }
  if (array.empty()) return Status::Error(where + ": \"messages\" is empty");
  if (array.size() > kMaxChatMessages) {
    return Status::Error(where + ": more than " + std::to_string(kMaxChatMessages) + " messages");
  }
  std::vector<ChatMessage> messages;
  bool has_assistant = false;
  for (size_t i = 0; i < array.size(); ++i) {
    const std::string at = where + ": messages[" + std::to_string(i) + "]";
    const Json& m = array[i];
    if (!m.is_object()) return Status::Error(at + " must be an object, found " + std::string(m.type_name()));
    if (!m.contains("role") || !m.contains("content")) {
      return Status::Error(at + " needs \"role\" and \"content\"");
    }
    LEANLM_ASSIGN_OR_RETURN(std::string role, StringField(m, "role", at));
    LEANLM_ASSIGN_OR_RETURN(std::string content, StringField(m, "content", at));
    if (role.empty()) return Status::Error(at + ": \"role\" is empty");
    has_assistant = has_assistant || role == "assistant";
    messages.push_back({std::move(role), std::move(content)});
  }
  if (!has_assistant) return Status::Error(where + ": no \"assistant\" message, so nothing to learn");
  return messages;
}

}  // namespace

bool IsBlankLine(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

Result<JsonlExample> ParseJsonlExample(std::string_view line, const std::string& where) {
  if (line.size() > kMaxJsonlLineBytes) {
    return Status::Error(where + ": line longer than " + std::to_string(kMaxJsonlLineBytes) + " bytes");
  }
  LEANLM_ASSIGN_OR_RETURN(Json j, ParseStrictJson(line, where, 0, 16));
  if (!j.is_object()) return Status::Error(where + ": expected a JSON object, found " + std::string(j.type_name()));
  const bool has_text = j.contains("text");
  const bool has_prompt = j.contains("prompt") || j.contains("completion");
  const bool has_messages = j.contains("messages");
  if (has_text + has_prompt + has_messages > 1) {
    return Status::Error(where + ": holds more than one of \"text\", \"prompt\"/\"completion\" and \"messages\"");
  }
  JsonlExample example;
  try {
    if (has_text) {
      example.kind = JsonlExample::Kind::kText;
      LEANLM_ASSIGN_OR_RETURN(example.text, StringField(j, "text", where));
    } else if (has_prompt) {
      if (!j.contains("prompt") || !j.contains("completion")) {
        return Status::Error(where + ": \"prompt\" and \"completion\" go together");
      }
      example.kind = JsonlExample::Kind::kPromptCompletion;
      LEANLM_ASSIGN_OR_RETURN(example.prompt, StringField(j, "prompt", where));
      LEANLM_ASSIGN_OR_RETURN(example.completion, StringField(j, "completion", where));
      if (example.completion.empty()) return Status::Error(where + ": \"completion\" is empty");
    } else if (has_messages) {
      example.kind = JsonlExample::Kind::kMessages;
      LEANLM_ASSIGN_OR_RETURN(example.messages, ParseMessages(j.at("messages"), where));
    } else {
      return Status::Error(where + ": expected a \"text\", \"prompt\"+\"completion\" or \"messages\" key");
    }
  } catch (const std::exception& e) {  // nlohmann's accessors; not expected after the checks above
    return Status::Error(where + ": " + e.what());
  }
  return example;
}

}  // namespace leanlm
