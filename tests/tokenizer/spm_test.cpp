// SentencePiece BPE against independent references: llama2.c's encoder
// (its test vectors for the 32k LLaMA-2 tokenizer and the stories260K
// reference for tok512) and llama.cpp's llama-spm vectors, which the
// SentencePiece library itself produced.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab_loaders.h"
#include "tokenizer_test_util.h"

namespace leanlm {
namespace {

using testing::DataDir;
using testing::FileExists;

std::unique_ptr<Tokenizer> LoadLlama2c(const std::string& path) {
  auto vocab = VocabFromLlama2cTokenizer(path);
  EXPECT_TRUE(vocab.ok()) << vocab.status().message();
  if (!vocab.ok()) return nullptr;
  auto tok = Tokenizer::Create(std::move(vocab).value());
  EXPECT_TRUE(tok.ok()) << tok.status().message();
  return tok.ok() ? std::move(tok).value() : nullptr;
}

TEST(SpmTokenizer, Llama2cTestVectors) {
  const std::string dir = DataDir() + "/llama2c";
  if (!FileExists(dir + "/tokenizer.bin")) GTEST_SKIP() << "no " << dir << "/tokenizer.bin";
  auto tok = LoadLlama2c(dir + "/tokenizer.bin");
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->n_vocab(), 32000);
  const auto j = nlohmann::json::parse(testing::ReadFile(dir + "/llama2_tokenizer_test_vectors.json"));
  ASSERT_GE(j["cases"].size(), 5u);
  for (const auto& c : j["cases"]) {
    const std::string text = c["text"];
    const auto expected = c["ids"].get<std::vector<int32_t>>();
    // llama2.c: encode(text, bos=1, eos=0) = add_special with the vocab's add_bos.
    EXPECT_EQ(tok->Encode(text, /*add_special=*/true, /*parse_special=*/false), expected) << text;
    EXPECT_EQ(tok->Decode(tok->Encode(text, true, false), {.render_control = false}), text);
  }
}

TEST(SpmTokenizer, Tok512ReferenceVectors) {
  const std::string dir = DataDir() + "/stories260K";
  if (!FileExists(dir + "/tok512.bin")) GTEST_SKIP() << "no " << dir << "/tok512.bin";
  auto tok = LoadLlama2c(dir + "/tok512.bin");
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->n_vocab(), 512);
  const auto j = nlohmann::json::parse(testing::ReadFile(dir + "/reference.json"));
  const auto& vectors = j["encode_vectors_tok512"];
  ASSERT_GE(vectors.size(), 5u);
  for (const auto& [text, ids] : vectors.items()) {
    EXPECT_EQ(tok->Encode(text, true, false), ids.get<std::vector<int32_t>>()) << text;
  }
}

// llama.cpp's ggml-vocab-llama-spm vectors hold for the same LLaMA vocabulary
// read from llama2.c's export.
TEST(SpmTokenizer, LlamaSpmVectorsFromTokenizerBin) {
  const std::string bin = DataDir() + "/llama2c/tokenizer.bin";
  const std::string inp = DataDir() + "/vocab/ggml-vocab-llama-spm.gguf.inp";
  if (!FileExists(bin) || !FileExists(inp)) GTEST_SKIP() << "no " << bin << " or " << inp;
  auto tok = LoadLlama2c(bin);
  ASSERT_NE(tok, nullptr);
  const auto cases = testing::ReadVocabCases(inp, DataDir() + "/vocab/ggml-vocab-llama-spm.gguf.out");
  ASSERT_GT(cases.size(), 40u);
  for (const auto& c : cases) {
    EXPECT_EQ(tok->Encode(c.text, false, false), c.ids) << "'" << c.text << "'";
    EXPECT_EQ(tok->Decode(c.ids), c.text);
  }
}

}  // namespace
}  // namespace leanlm
