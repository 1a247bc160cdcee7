// Chat templates against llama.cpp's tests/test-chat-template.cpp (b4747):
// the expected outputs below are its published vectors for the same
// conversation. Families are selected by name; detection from Jinja source
// is checked on the real templates in ../shared/data and on the substrings
// llama.cpp's detector keys on.
#include "tokenizer/chat_template.h"

#include <gtest/gtest.h>

#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab_loaders.h"
#include "tokenizer_test_util.h"

namespace leanlm {
namespace {

const std::vector<ChatMessage> kConversation = {
    {"system", "You are a helpful assistant"},
    {"user", "Hello"},
    {"assistant", "Hi there"},
    {"user", "Who are you"},
    {"assistant", "   I am an assistant   "},
    {"user", "Another question"},
};

struct Case {
  const char* family;
  const char* model;  // whose template llama.cpp's test used
  const char* expected;
};

// add_generation_prompt = true, as in llama.cpp's test.
const Case kCases[] = {
    {"chatml", "teknium/OpenHermes-2.5-Mistral-7B",
     "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n   I am an assistant   <|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n<|im_start|>assistant\n"},
    {"llama2", "mistralai/Mistral-7B-Instruct-v0.2 (NOTE: Old pre-v1 without",
     "[INST] You are a helpful assistant\nHello [/INST]Hi there</s>[INST] Who are you [/INST]   I am an assistant   </s>[INST] Another question [/INST]"},
    {"llama2-sys-bos", "TheBloke/FusionNet_34Bx2_MoE-AWQ",
     "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s><s>[INST] Who are you [/INST]   I am an assistant   </s><s>[INST] Another question [/INST]"},
    {"llama2-sys-strip", "bofenghuang/vigogne-2-70b-chat",
     "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s>[INST] Who are you [/INST]I am an assistant</s>[INST] Another question [/INST]"},
    {"monarch", "mlabonne/AlphaMonarch-7B",
     "system\nYou are a helpful assistant</s>\n<s>user\nHello</s>\n<s>assistant\nHi there</s>\n<s>user\nWho are you</s>\n<s>assistant\n   I am an assistant   </s>\n<s>user\nAnother question</s>\n<s>assistant\n"},
    {"gemma", "google/gemma-7b-it",
     "<start_of_turn>user\nYou are a helpful assistant\n\nHello<end_of_turn>\n<start_of_turn>model\nHi there<end_of_turn>\n<start_of_turn>user\nWho are you<end_of_turn>\n<start_of_turn>model\nI am an assistant<end_of_turn>\n<start_of_turn>user\nAnother question<end_of_turn>\n<start_of_turn>model\n"},
    {"orion", "OrionStarAI/Orion-14B-Chat",
     "Human: You are a helpful assistant\n\nHello\n\nAssistant: </s>Hi there</s>Human: Who are you\n\nAssistant: </s>   I am an assistant   </s>Human: Another question\n\nAssistant: </s>"},
    {"openchat", "openchat/openchat-3.5-0106",
     "You are a helpful assistant<|end_of_turn|>GPT4 Correct User: Hello<|end_of_turn|>GPT4 Correct Assistant: Hi there<|end_of_turn|>GPT4 Correct User: Who are you<|end_of_turn|>GPT4 Correct Assistant:    I am an assistant   <|end_of_turn|>GPT4 Correct User: Another question<|end_of_turn|>GPT4 Correct Assistant:"},
    {"deepseek", "deepseek-ai/deepseek-coder-33b-instruct",
     "You are a helpful assistant### Instruction:\nHello\n### Response:\nHi there\n<|EOT|>\n### Instruction:\nWho are you\n### Response:\n   I am an assistant   \n<|EOT|>\n### Instruction:\nAnother question\n### Response:\n"},
    {"vicuna", "eachadea/vicuna-13b-1.1",
     "You are a helpful assistant\n\nUSER: Hello\nASSISTANT: Hi there</s>\nUSER: Who are you\nASSISTANT:    I am an assistant   </s>\nUSER: Another question\nASSISTANT:"},
    {"vicuna-orca", "Orca-Vicuna",
     "SYSTEM: You are a helpful assistant\nUSER: Hello\nASSISTANT: Hi there</s>\nUSER: Who are you\nASSISTANT:    I am an assistant   </s>\nUSER: Another question\nASSISTANT:"},
    {"command-r", "CohereForAI/c4ai-command-r-plus",
     "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>You are a helpful assistant<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Hello<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>Hi there<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Who are you<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>I am an assistant<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Another question<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>"},
    {"llama3", "Llama-3",
     "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nI am an assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
    {"phi3", "Phi-3-mini",
     "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n   I am an assistant   <|end|>\n<|user|>\nAnother question<|end|>\n<|assistant|>\n"},
    {"chatglm3", "ChatGLM3",
     "[gMASK]sop<|system|>\n You are a helpful assistant<|user|>\n Hello<|assistant|>\n Hi there<|user|>\n Who are you<|assistant|>\n    I am an assistant   <|user|>\n Another question<|assistant|>"},
    {"chatglm4", "ChatGLM4",
     "[gMASK]<sop><|system|>\nYou are a helpful assistant<|user|>\nHello<|assistant|>\nHi there<|user|>\nWho are you<|assistant|>\n   I am an assistant   <|user|>\nAnother question<|assistant|>"},
    {"glmedge", "GLMEdge",
     "<|system|>\nYou are a helpful assistant<|user|>\nHello<|assistant|>\nHi there<|user|>\nWho are you<|assistant|>\n   I am an assistant   <|user|>\nAnother question<|assistant|>"},
    {"minicpm", "MiniCPM-3B-OpenHermes-2.5-v2-GGUF",
     "You are a helpful assistant<\xE7\x94\xA8\xE6\x88\xB7>Hello<AI>Hi there<\xE7\x94\xA8\xE6\x88\xB7>Who are you<AI>I am an assistant<\xE7\x94\xA8\xE6\x88\xB7>Another question<AI>"},
    {"deepseek2", "DeepSeek-V2",
     "You are a helpful assistant\n\nUser: Hello\n\nAssistant: Hi there<\xEF\xBD\x9C""end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>User: Who are you\n\nAssistant:    I am an assistant   <\xEF\xBD\x9C""end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>User: Another question\n\nAssistant:"},
    {"granite", "ibm-granite/granite-3.0-8b-instruct",
     "<|start_of_role|>system<|end_of_role|>You are a helpful assistant<|end_of_text|>\n<|start_of_role|>user<|end_of_role|>Hello<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>Hi there<|end_of_text|>\n<|start_of_role|>user<|end_of_role|>Who are you<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>   I am an assistant   <|end_of_text|>\n<|start_of_role|>user<|end_of_role|>Another question<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>\n"},
    {"mistral-v1", "mistralai/Mistral-7B-Instruct-v0.2 (mistralai 'v1' template ",
     " [INST] You are a helpful assistant\n\nHello [/INST] Hi there</s> [INST] Who are you [/INST]    I am an assistant   </s> [INST] Another question [/INST]"},
    {"mistral-v3", "Mistral-Large-Instruct-2407 (mistralai 'v3' template; modifi",
     "[INST] You are a helpful assistant\n\nHello[/INST] Hi there</s>[INST] Who are you[/INST] I am an assistant</s>[INST] Another question[/INST]"},
    {"mistral-v3-tekken", "Mistral-Nemo-Instruct-2407 (mistralai 'v3-tekken' template; ",
     "[INST]You are a helpful assistant\n\nHello[/INST]Hi there</s>[INST]Who are you[/INST]   I am an assistant   </s>[INST]Another question[/INST]"},
    {"mistral-v7", "mistralai/Mistral-Large-Instruct-2411 (mistralai 'v7' templa",
     "[SYSTEM_PROMPT] You are a helpful assistant[/SYSTEM_PROMPT][INST] Hello[/INST] Hi there</s>[INST] Who are you[/INST]    I am an assistant   </s>[INST] Another question[/INST]"},
    {"gigachat", "ai-sage/GigaChat-20B-A3B-instruct",
     "<s>You are a helpful assistant<|message_sep|>user<|role_sep|>Hello<|message_sep|>available functions<|role_sep|>[]<|message_sep|>assistant<|role_sep|>Hi there<|message_sep|>user<|role_sep|>Who are you<|message_sep|>available functions<|role_sep|>[]<|message_sep|>assistant<|role_sep|>   I am an assistant   <|message_sep|>user<|role_sep|>Another question<|message_sep|>available functions<|role_sep|>[]<|message_sep|>assistant<|role_sep|>"},
    {"megrez", "Infinigence/Megrez-3B-Instruct",
     "<|role_start|>system<|role_end|>You are a helpful assistant<|turn_end|><|role_start|>user<|role_end|>Hello<|turn_end|><|role_start|>assistant<|role_end|>Hi there<|turn_end|><|role_start|>user<|role_end|>Who are you<|turn_end|><|role_start|>assistant<|role_end|>   I am an assistant   <|turn_end|><|role_start|>user<|role_end|>Another question<|turn_end|><|role_start|>assistant<|role_end|>"},
    {"phi4", "phi-4",
     "<|im_start|>system<|im_sep|>You are a helpful assistant<|im_end|><|im_start|>user<|im_sep|>Hello<|im_end|><|im_start|>assistant<|im_sep|>Hi there<|im_end|><|im_start|>user<|im_sep|>Who are you<|im_end|><|im_start|>assistant<|im_sep|>   I am an assistant   <|im_end|><|im_start|>user<|im_sep|>Another question<|im_end|><|im_start|>assistant<|im_sep|>"},
};

TEST(ChatTemplate, LlamaCppVectors) {
  for (const Case& c : kCases) {
    const ChatTemplateKind kind = ChatTemplateFromName(c.family);
    ASSERT_NE(kind, ChatTemplateKind::kUnknown) << c.family;
    EXPECT_EQ(FormatChat(kind, kConversation, true), c.expected) << c.family << " (" << c.model << ")";
    EXPECT_EQ(ChatTemplateName(kind), c.family);
  }
}

// stablelm-2-zephyr's template: "<|role|>\n" + content + "<|endoftext|>\n" per
// message (no llama.cpp vector at b4747; written out from the template).
TEST(ChatTemplate, Zephyr) {
  EXPECT_EQ(FormatChat(ChatTemplateKind::kZephyr, kConversation, true),
            "<|system|>\nYou are a helpful assistant<|endoftext|>\n<|user|>\nHello<|endoftext|>\n"
            "<|assistant|>\nHi there<|endoftext|>\n<|user|>\nWho are you<|endoftext|>\n"
            "<|assistant|>\n   I am an assistant   <|endoftext|>\n<|user|>\nAnother question<|endoftext|>\n"
            "<|assistant|>\n");
}

// llama.cpp's common_chat_format_single vectors (system message alone, then
// one user message after a system/user/assistant history).
TEST(ChatTemplate, Increments) {
  const ChatMessage sys{"system", "You are a helpful assistant"};
  auto fmt_sys = [&](const char* name) { return FormatChatIncrement(DetectChatTemplate(name), {}, sys, false); };
  EXPECT_EQ(fmt_sys("chatml"), "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n");
  EXPECT_EQ(fmt_sys("mistral-v1"), " [INST] You are a helpful assistant\n\n");
  EXPECT_EQ(fmt_sys("mistral-v3"), "[INST] You are a helpful assistant\n\n");
  EXPECT_EQ(fmt_sys("mistral-v3-tekken"), "[INST]You are a helpful assistant\n\n");
  EXPECT_EQ(fmt_sys("mistral-v7"), "[SYSTEM_PROMPT] You are a helpful assistant[/SYSTEM_PROMPT]");
  EXPECT_EQ(fmt_sys("llama2"), "[INST] You are a helpful assistant\n");
  EXPECT_EQ(fmt_sys("llama2-sys"), "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\n");
  EXPECT_EQ(fmt_sys("mistral"), "[INST] You are a helpful assistant\n");  // old pre-v1 templates
  EXPECT_EQ(fmt_sys("gemma"), "");  // merged into the next user message
  EXPECT_EQ(fmt_sys("llama3"), "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|>");
  EXPECT_EQ(fmt_sys("gigachat"), "<s>You are a helpful assistant<|message_sep|>");

  const std::vector<ChatMessage> past = {sys, {"user", "Hello"}, {"assistant", "I am assistant"}};
  const ChatMessage next{"user", "How are you"};
  auto fmt_single = [&](const char* name) { return FormatChatIncrement(DetectChatTemplate(name), past, next, true); };
  EXPECT_EQ(fmt_single("chatml"), "\n<|im_start|>user\nHow are you<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(fmt_single("mistral-v1"), " [INST] How are you [/INST]");
  EXPECT_EQ(fmt_single("mistral-v3"), "[INST] How are you[/INST]");
  EXPECT_EQ(fmt_single("mistral-v3-tekken"), "[INST]How are you[/INST]");
  EXPECT_EQ(fmt_single("mistral-v7"), "[INST] How are you[/INST]");
  EXPECT_EQ(fmt_single("llama2"), "[INST] How are you [/INST]");
  EXPECT_EQ(fmt_single("mistral"), "[INST] How are you [/INST]");
  EXPECT_EQ(fmt_single("gemma"), "\n<start_of_turn>user\nHow are you<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(fmt_single("llama3"),
            "<|start_header_id|>user<|end_header_id|>\n\nHow are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(fmt_single("gigachat"),
            "user<|role_sep|>How are you<|message_sep|>available functions<|role_sep|>[]<|message_sep|>assistant<|role_sep|>");
}

// The substrings llama.cpp's llm_chat_detect_template keys on, in Jinja-like snippets.
TEST(ChatTemplate, DetectsFamiliesFromSource) {
  const std::pair<const char*, ChatTemplateKind> snippets[] = {
      {"{{'<|im_start|>' + message['role']}}", ChatTemplateKind::kChatml},
      {"{{'<|im_start|>system<|im_sep|>'}}", ChatTemplateKind::kPhi4},
      {"{{ '[INST] ' + message['content'] + ' [/INST]' }}", ChatTemplateKind::kLlama2},
      {"{{ '[INST] <<SYS>>\\n' + system }}", ChatTemplateKind::kLlama2Sys},
      {"{{ bos_token + '[INST] ' + x }} <<SYS>>", ChatTemplateKind::kLlama2SysBos},
      {"{{ '[INST] ' + content.strip() }} <<SYS>>", ChatTemplateKind::kLlama2SysStrip},
      {"{{- ' [INST] ' + system_message + '\\n\\n' }}", ChatTemplateKind::kMistralV1},
      {"{{- \"[AVAILABLE_TOOLS] [\" }}{{- \"[INST] \" + x }}", ChatTemplateKind::kMistralV3},
      {"{{- \"[AVAILABLE_TOOLS][\" }}{{- \"[INST]\" + x }}", ChatTemplateKind::kMistralV3Tekken},
      {"{{ '[SYSTEM_PROMPT] ' + s }}{{ '[INST] ' + u }}", ChatTemplateKind::kMistralV7},
      {"{{'<|user|>' + '\\n' + c + '<|end|>' + '\\n' + '<|assistant|>'}}", ChatTemplateKind::kPhi3},
      {"{{'<|user|>\\n' + c + '</s>'}}{{'<|assistant|>\\n'}}", ChatTemplateKind::kFalcon3},
      {"<|user|>\n{{ c }}<|assistant|>", ChatTemplateKind::kGlmEdge},
      {"{{ '<|user|>\\n' + c + '<|endoftext|>' }}", ChatTemplateKind::kZephyr},
      {"{{bos_token + message['role'] + '\\n'}}", ChatTemplateKind::kMonarch},
      {"{{ '<start_of_turn>' + role }}", ChatTemplateKind::kGemma},
      {"{{ 'Human: ' + c + '\\n\\nAssistant: ' + eos_token }}", ChatTemplateKind::kOrion},
      {"{{ 'GPT4 Correct ' + role }}", ChatTemplateKind::kOpenchat},
      {"USER: {{c}} ASSISTANT: ", ChatTemplateKind::kVicuna},
      {"SYSTEM: {{s}} USER: {{c}} ASSISTANT: ", ChatTemplateKind::kVicunaOrca},
      {"### Instruction:\n{{c}}<|EOT|>", ChatTemplateKind::kDeepseek},
      {"<|START_OF_TURN_TOKEN|><|USER_TOKEN|>", ChatTemplateKind::kCommandR},
      {"<|start_header_id|>{{role}}<|end_header_id|>", ChatTemplateKind::kLlama3},
      {"[gMASK]sop<|{{ role }}|>", ChatTemplateKind::kChatglm3},
      {"[gMASK]<sop>", ChatTemplateKind::kChatglm4},
      {"{{'<\xE7\x94\xA8\xE6\x88\xB7>' + c + '<AI>'}}", ChatTemplateKind::kMinicpm},
      {"{{ 'Assistant: ' + message['content'] + eos_token }}", ChatTemplateKind::kDeepseek2},
      {"<\xEF\xBD\x9CUser\xEF\xBD\x9C><\xEF\xBD\x9C" "Assistant\xEF\xBD\x9C><\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81"
       "sentence\xEF\xBD\x9C>",
       ChatTemplateKind::kDeepseek3},
      {"[|system|][|assistant|][|endofturn|]", ChatTemplateKind::kExaone3},
      {"<|start_of_role|>{{role}}<|end_of_role|>", ChatTemplateKind::kGranite},
      {"<|role_start|>{{role}}<|role_end|>", ChatTemplateKind::kMegrez},
      {"{{ messages }}", ChatTemplateKind::kUnknown},
      {"", ChatTemplateKind::kUnknown},
  };
  for (const auto& [source, kind] : snippets) {
    EXPECT_EQ(DetectChatTemplate(source), kind) << source;
  }
  for (std::string_view name : ChatTemplateNames()) EXPECT_EQ(ChatTemplateName(DetectChatTemplate(name)), name);
}

TEST(ChatTemplate, DetectsRealTemplates) {
  const std::string dir = testing::DataDir();
  const std::string json = dir + "/tokenizers/llama3_tokenizer.json";
  if (!testing::FileExists(json)) GTEST_SKIP() << "no " << json;
  auto vocab = VocabFromTokenizerJson(json, dir + "/tokenizers/llama3_tokenizer_config.json");
  ASSERT_TRUE(vocab.ok()) << vocab.status().message();
  EXPECT_EQ(DetectChatTemplate(vocab->chat_template), ChatTemplateKind::kLlama3);
  // The formatted prompt tokenizes with the template's control tokens.
  auto tok = Tokenizer::Create(std::move(vocab).value());
  ASSERT_TRUE(tok.ok());
  const FormattedChat f = FormatChat((*tok)->vocab().chat_template, {{"user", "Hi"}}, true);
  EXPECT_TRUE(f.known());
  const auto ids = (*tok)->Encode(f.prompt, true, true);
  const std::vector<int32_t> expected = {128000, 128006, 882, 128007, 271, 13347, 128009, 128006, 78191, 128007, 271};
  EXPECT_EQ(ids, expected);
}

TEST(ChatTemplate, UnknownFallsBackToRoleLines) {
  const FormattedChat f = FormatChat("{{ something else }}", {{"user", "Hi"}, {"assistant", "Hello"}}, true);
  EXPECT_FALSE(f.known());
  EXPECT_EQ(f.prompt, "user: Hi\nassistant: Hello\nassistant:");
}

}  // namespace
}  // namespace leanlm
