// Pre-tokenizer splits, written out from the regexes' meaning (GPT-2's
// contractions, letters, numbers and whitespace rules; LLaMA-3's three-digit
// groups; Qwen2's single digits; the DeepSeek and StarCoder digit rules).
#include "tokenizer/pretokenizer.h"

#include <gtest/gtest.h>

#include "tokenizer/vocab.h"

namespace leanlm {
namespace {

std::vector<std::string> Split(const std::string& pre, std::string_view text) {
  auto p = PreTokenizer::Create(pre);
  EXPECT_TRUE(p.ok()) << p.status().message();
  if (!p.ok()) return {};
  std::vector<std::string_view> pieces;
  (*p)->Split(text, pieces);
  return {pieces.begin(), pieces.end()};
}

using Pieces = std::vector<std::string>;

TEST(PreTokenizer, Gpt2) {
  EXPECT_EQ(Split("gpt-2", "Hello, world!  How's it 2024?"),
            (Pieces{"Hello", ",", " world", "!", " ", " How", "'s", " it", " 2024", "?"}));
  EXPECT_EQ(Split("gpt-2", "a\n\n b"), (Pieces{"a", "\n\n", " b"}));
  EXPECT_EQ(Split("gpt-2", "caf\xC3\xA9 \xD0\xBD\xD0\xB0"), (Pieces{"caf\xC3\xA9", " \xD0\xBD\xD0\xB0"}));
}

TEST(PreTokenizer, Llama3AndQwen2Digits) {
  EXPECT_EQ(Split("llama-bpe", "12345 abc"), (Pieces{"123", "45", " abc"}));
  EXPECT_EQ(Split("qwen2", "12345 abc"), (Pieces{"1", "2", "3", "4", "5", " abc"}));
  // Case-insensitive contractions, punctuation with trailing newlines, newline runs.
  EXPECT_EQ(Split("llama-bpe", "I'LL go!\n\nok"), (Pieces{"I", "'LL", " go", "!\n\n", "ok"}));
  EXPECT_EQ(Split("llama-bpe", "a   b"), (Pieces{"a", "  ", " b"}));
  EXPECT_TRUE(PreTokenizer::Create("llama-bpe").value()->ignore_merges());
  EXPECT_FALSE(PreTokenizer::Create("qwen2").value()->ignore_merges());
}

TEST(PreTokenizer, DigitRules) {
  EXPECT_EQ(Split("starcoder", "x=123;"), (Pieces{"x", "=", "1", "2", "3", ";"}));
  EXPECT_EQ(Split("deepseek-coder", "ab 12\ncd"), (Pieces{"ab", " ", "1", "2", "\n", "cd"}));
  EXPECT_EQ(Split("falcon", "1234567"), (Pieces{"123", "456", "7"}));
  EXPECT_EQ(Split("deepseek-llm", "Hi, 42\n"), (Pieces{"Hi", ",", " ", "42", "\n"}));
}

TEST(PreTokenizer, AnyBytes) {
  // Invalid UTF-8 never matches; it stays in the pieces between matches, and nothing is lost.
  const std::string text = "ab\xFF\xC3 cd\xE2\x82";
  std::string joined;
  for (const auto& p : Split("llama-bpe", text)) joined += p;
  EXPECT_EQ(joined, text);
  EXPECT_TRUE(Split("gpt-2", "").empty());
}

TEST(PreTokenizer, EverySupportedNameCompiles) {
  for (const std::string& name : SupportedPreTokenizers()) {
    auto p = PreTokenizer::Create(name);
    EXPECT_TRUE(p.ok()) << name << ": " << p.status().message();
  }
}

TEST(PreTokenizer, UnknownName) {
  auto p = PreTokenizer::Create("chameleon");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("chameleon"), std::string::npos);
}

}  // namespace
}  // namespace leanlm
