// SentencePiece BPE against independent references: llama2.c's encoder
// (its test vectors for the 32k LLaMA-2 tokenizer and the stories260K
// reference for tok512) and llama.cpp's llama-spm vectors, which the
// SentencePiece library itself produced.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <unordered_map>

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

// llama2.c's encoder, written out plainly: every character (or its bytes)
// is a symbol, then repeatedly the best-scoring adjacent pair whose join is
// a token merges (leftmost on ties). Quadratic, independent of the heap and
// of the run splitting the tokenizer does.
std::vector<int32_t> NaiveEncode(const VocabData& v, const std::string& input) {
  std::unordered_map<std::string, int32_t> ids;
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    const TokenType t = v.type(static_cast<int32_t>(i));
    if (t == TokenType::kNormal || t == TokenType::kUserDefined) ids.emplace(v.tokens[i], static_cast<int32_t>(i));
  }
  std::string text = "\xE2\x96\x81";  // the dummy prefix
  for (char c : input) text += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
  std::vector<std::string> symbols;
  for (size_t i = 0; i < text.size();) {
    size_t len = 1;
    const auto lead = static_cast<uint8_t>(text[i]);
    if (lead >= 0xF0) len = 4; else if (lead >= 0xE0) len = 3; else if (lead >= 0xC0) len = 2;
    symbols.push_back(text.substr(i, len));
    i += len;
  }
  while (true) {
    float best = -1e30f;
    size_t at = symbols.size();
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      auto it = ids.find(symbols[i] + symbols[i + 1]);
      if (it != ids.end() && v.scores[it->second] > best) best = v.scores[it->second], at = i;
    }
    if (at == symbols.size()) break;
    symbols[at] += symbols[at + 1];
    symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(at) + 1);
  }
  std::vector<int32_t> out;
  for (const auto& s : symbols) {
    auto it = ids.find(s);
    if (it != ids.end()) {
      out.push_back(it->second);
    } else {
      for (char c : s) out.push_back(static_cast<uint8_t>(c) + 3);  // <0x00> is token 3
    }
  }
  return out;
}

TEST(SpmTokenizer, MatchesNaiveEncoderOnRealText) {
  const std::string bin = DataDir() + "/llama2c/tokenizer.bin";
  const std::string txt = DataDir() + "/text/wikitext2_raw_test_hfrecon_crlf.raw";
  if (!FileExists(bin) || !FileExists(txt)) GTEST_SKIP() << "no " << bin << " or " << txt;
  auto vocab = VocabFromLlama2cTokenizer(bin);
  ASSERT_TRUE(vocab.ok());
  auto tok = Tokenizer::Create(*vocab);
  ASSERT_TRUE(tok.ok());
  const std::string text = testing::ReadFile(txt);
  // Chunks of several lines (CRLF, headings, numbers, punctuation, non-ASCII).
  for (size_t start = 0; start < 12 * 1500 && start < text.size(); start += 1500) {
    const std::string chunk = text.substr(start, 1500);
    EXPECT_EQ((*tok)->Encode(chunk, false, false), NaiveEncode(*vocab, chunk)) << "chunk at " << start;
  }
}

}  // namespace
}  // namespace leanlm
