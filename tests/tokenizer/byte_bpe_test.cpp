// Byte-level BPE against llama.cpp's tokenizer vectors, which the reference
// Hugging Face tokenizers produced (add_special=false, parse_special=false).
#include <gtest/gtest.h>

#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab_loaders.h"
#include "tokenizer_test_util.h"

namespace leanlm {
namespace {

using testing::DataDir;
using testing::FileExists;

void ExpectVectors(const Tokenizer& tok, const std::string& name, bool lossless) {
  const std::string base = DataDir() + "/vocab/ggml-vocab-" + name + ".gguf";
  const auto cases = testing::ReadVocabCases(base + ".inp", base + ".out");
  ASSERT_GT(cases.size(), 40u) << base;
  size_t passed = 0;
  for (const auto& c : cases) {
    const auto ids = tok.Encode(c.text, false, false);
    EXPECT_EQ(ids, c.ids) << name << ": '" << c.text << "'";
    passed += ids == c.ids;
    if (lossless) {
      EXPECT_EQ(tok.Decode(c.ids), c.text) << name;
    }
  }
  EXPECT_EQ(passed, cases.size());
}

TEST(ByteBpeTokenizer, LlamaBpeVectorsFromTokenizerJson) {
  const std::string json = DataDir() + "/tokenizers/llama3_tokenizer.json";
  if (!FileExists(json)) GTEST_SKIP() << "no " << json;
  auto vocab = VocabFromTokenizerJson(json, DataDir() + "/tokenizers/llama3_tokenizer_config.json");
  ASSERT_TRUE(vocab.ok()) << vocab.status().message();
  EXPECT_EQ(vocab->model, "gpt2");
  EXPECT_EQ(vocab->pre, "llama-bpe");
  EXPECT_EQ(vocab->tokens.size(), 128256u);
  EXPECT_EQ(vocab->merges.size(), 280147u);
  EXPECT_EQ(vocab->tokens[vocab->bos_id], "<|begin_of_text|>");
  EXPECT_EQ(vocab->tokens[vocab->eos_id], "<|end_of_text|>");
  EXPECT_TRUE(vocab->add_bos);
  EXPECT_NE(vocab->chat_template.find("<|start_header_id|>"), std::string::npos);
  auto tok = Tokenizer::Create(std::move(vocab).value());
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  ExpectVectors(**tok, "llama-bpe", true);

  // Special tokens: parsed only when asked; BOS from the vocabulary's add_bos.
  const std::string chat = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
  const auto with = (*tok)->Encode(chat, true, true);
  ASSERT_EQ(with.size(), 7u);  // BOS, header, "user", header end, "\n\n", "Hi", eot
  EXPECT_EQ(with[0], 128000);  // <|begin_of_text|>
  EXPECT_EQ(with[1], 128006);  // <|start_header_id|>
  EXPECT_EQ(with[3], 128007);  // <|end_header_id|>
  EXPECT_EQ(with[6], 128009);  // <|eot_id|>
  EXPECT_TRUE((*tok)->IsEndOfGeneration(128009));
  EXPECT_TRUE((*tok)->IsEndOfGeneration(128001));
  EXPECT_FALSE((*tok)->IsEndOfGeneration(128006));
  const auto without = (*tok)->Encode(chat, false, false);
  for (int32_t id : without) EXPECT_LT(id, 128000);
  EXPECT_EQ((*tok)->Decode(without), chat);
  EXPECT_EQ((*tok)->Decode(with), "<|begin_of_text|>" + chat);
  EXPECT_EQ((*tok)->Decode(with, {.render_control = false}), "user\n\nHi");
}

}  // namespace
}  // namespace leanlm
