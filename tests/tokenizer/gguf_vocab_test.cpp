// Vocabularies read from GGUF: llama.cpp's tokenizer vectors for every
// vocab-only GGUF in ../shared/data/vocab (made by the reference Hugging Face
// / SentencePiece tokenizers), stories260K's reference encodings, and the
// GGUF written back by VocabToGguf.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"
#include "tokenizer_test_util.h"

namespace leanlm {
namespace {

using testing::DataDir;
using testing::FileExists;

Result<VocabData> LoadGgufVocab(const std::string& path) {
  LEANLM_ASSIGN_OR_RETURN(auto gguf, GgufFile::Open(path));
  return VocabFromGguf(*gguf);
}

std::string VocabPath(const std::string& name) { return DataDir() + "/vocab/ggml-vocab-" + name + ".gguf"; }

class GgufVocabVectors : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufVocabVectors, MatchReference) {
  const std::string path = VocabPath(GetParam());
  if (!FileExists(path)) GTEST_SKIP() << "no " << path;
  auto vocab = LoadGgufVocab(path);
  ASSERT_TRUE(vocab.ok()) << vocab.status().message();
  auto tok = Tokenizer::Create(std::move(vocab).value());
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  const auto cases = testing::ReadVocabCases(path + ".inp", path + ".out");
  ASSERT_GT(cases.size(), 40u);
  size_t passed = 0;
  for (const auto& c : cases) {
    const auto ids = (*tok)->Encode(c.text, false, false);
    EXPECT_EQ(ids, c.ids) << GetParam() << ": '" << c.text << "'";
    passed += ids == c.ids;
    EXPECT_EQ((*tok)->Decode(c.ids), c.text) << GetParam();  // every kind here is lossless on these texts
  }
  EXPECT_EQ(passed, cases.size()) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Vocabs, GgufVocabVectors,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "starcoder", "falcon", "deepseek-coder"));

TEST(GgufVocab, Stories260K) {
  const std::string dir = DataDir() + "/stories260K";
  if (!FileExists(dir + "/stories260K.gguf")) GTEST_SKIP() << "no " << dir;
  auto vocab = LoadGgufVocab(dir + "/stories260K.gguf");
  ASSERT_TRUE(vocab.ok()) << vocab.status().message();
  EXPECT_EQ(vocab->pad_id, -1);  // stored as 0xFFFFFFFF: none
  EXPECT_EQ(vocab->bos_id, 1);
  EXPECT_TRUE(vocab->add_bos);
  auto tok = Tokenizer::Create(std::move(vocab).value());
  ASSERT_TRUE(tok.ok());
  const auto j = nlohmann::json::parse(testing::ReadFile(dir + "/reference.json"));
  for (const auto& [text, ids] : j["encode_vectors_tok512"].items()) {
    EXPECT_EQ((*tok)->Encode(text, true, false), ids.get<std::vector<int32_t>>()) << text;
  }
  // The greedy continuation decodes to the reference text.
  const auto& greedy = j["greedy_t0_steps200_empty_prompt"];
  if (greedy.contains("tokens") && greedy.contains("text")) {
    const auto ids = greedy["tokens"].get<std::vector<int32_t>>();
    EXPECT_NE((*tok)->Decode(ids, {.render_control = false}).find("Once upon a time"), std::string::npos);
  }
}

TEST(GgufVocab, Phi3ChatTemplateAndEndOfTurn) {
  const std::string path = VocabPath("phi-3");
  if (!FileExists(path)) GTEST_SKIP() << "no " << path;
  auto vocab = LoadGgufVocab(path);
  ASSERT_TRUE(vocab.ok()) << vocab.status().message();
  EXPECT_EQ(DetectChatTemplate(vocab->chat_template), ChatTemplateKind::kPhi3);
  auto tok = Tokenizer::Create(std::move(vocab).value());
  ASSERT_TRUE(tok.ok());
  const int32_t end = (*tok)->TokenId("<|end|>");
  ASSERT_GE(end, 0);
  EXPECT_TRUE((*tok)->IsEndOfGeneration(end));
  EXPECT_TRUE((*tok)->IsEndOfGeneration((*tok)->eos()));
  EXPECT_FALSE((*tok)->IsEndOfGeneration((*tok)->TokenId("<|user|>")));
  // parse_special turns the template's markers into their control tokens.
  const auto ids = (*tok)->Encode("<|user|>\nHi<|end|>\n<|assistant|>\n", true, true);
  EXPECT_EQ(ids.front(), (*tok)->bos());
  EXPECT_EQ(ids[1], (*tok)->TokenId("<|user|>"));
  EXPECT_NE(std::find(ids.begin(), ids.end(), end), ids.end());
  const auto plain = (*tok)->Encode("<|user|>", false, false);
  EXPECT_GT(plain.size(), 1u);  // without parse_special it is text
}

class TempFile {
 public:
  TempFile() {
    char tmpl[] = "/tmp/leanlm_vocab_XXXXXX";
    const int fd = mkstemp(tmpl);
    if (fd >= 0) ::close(fd);
    path_ = tmpl;
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(GgufVocab, WriteReadRoundTrip) {
  for (const std::string name : {"llama-spm", "phi-3", "gpt-2", "deepseek-coder"}) {
    if (!FileExists(VocabPath(name))) GTEST_SKIP() << "no " << VocabPath(name);
    auto original = LoadGgufVocab(VocabPath(name));
    ASSERT_TRUE(original.ok()) << original.status().message();
    GgufWriter writer;
    VocabToGguf(*original, writer);
    TempFile file;
    ASSERT_TRUE(writer.Write(file.path()).ok());
    auto back = LoadGgufVocab(file.path());
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back->model, original->model) << name;
    EXPECT_EQ(back->pre, original->pre) << name;
    EXPECT_EQ(back->tokens, original->tokens) << name;
    EXPECT_EQ(back->scores, original->scores) << name;
    EXPECT_EQ(back->token_types, original->token_types) << name;
    EXPECT_EQ(back->merges, original->merges) << name;
    EXPECT_EQ(back->bos_id, original->bos_id) << name;
    EXPECT_EQ(back->eos_id, original->eos_id) << name;
    EXPECT_EQ(back->unk_id, original->unk_id) << name;
    EXPECT_EQ(back->pad_id, original->pad_id) << name;
    EXPECT_EQ(back->add_bos, original->add_bos) << name;
    EXPECT_EQ(back->add_eos, original->add_eos) << name;
    EXPECT_EQ(back->add_space_prefix, original->add_space_prefix) << name;
    EXPECT_EQ(back->chat_template, original->chat_template) << name;
  }
}

void ExpectGgufError(GgufWriter& writer, const std::vector<std::string>& parts) {
  TempFile file;
  ASSERT_TRUE(writer.Write(file.path()).ok());
  auto v = LoadGgufVocab(file.path());
  ASSERT_FALSE(v.ok());
  for (const auto& p : parts) EXPECT_NE(v.status().message().find(p), std::string::npos) << v.status().message();
}

TEST(GgufVocab, BadInput) {
  const std::string bert = VocabPath("bert-bge");
  if (FileExists(bert)) {
    auto v = LoadGgufVocab(bert);
    ASSERT_FALSE(v.ok());
    EXPECT_NE(v.status().message().find("'bert'"), std::string::npos) << v.status().message();
  }
  {
    GgufWriter w;  // no tokenizer at all
    w.Set("general.architecture", GgufValue::Str("llama"));
    ExpectGgufError(w, {"tokenizer.ggml.model"});
  }
  {
    GgufWriter w;
    w.Set("tokenizer.ggml.model", GgufValue::Str("llama"));
    ExpectGgufError(w, {"tokenizer.ggml.tokens"});
  }
  {
    GgufWriter w;  // tokens of the wrong type
    w.Set("tokenizer.ggml.model", GgufValue::Str("llama"));
    w.Set("tokenizer.ggml.tokens", GgufValue::I32Array({1, 2, 3}));
    ExpectGgufError(w, {"tokenizer.ggml.tokens"});
  }
  {
    GgufWriter w;  // byte-level without merges
    w.Set("tokenizer.ggml.model", GgufValue::Str("gpt2"));
    w.Set("tokenizer.ggml.tokens", GgufValue::StrArray({"a", "b"}));
    ExpectGgufError(w, {"tokenizer.ggml.merges"});
  }
  {
    GgufWriter w;  // a merge of unknown tokens
    w.Set("tokenizer.ggml.model", GgufValue::Str("gpt2"));
    w.Set("tokenizer.ggml.pre", GgufValue::Str("gpt-2"));
    w.Set("tokenizer.ggml.tokens", GgufValue::StrArray({"a", "b", "ab"}));
    w.Set("tokenizer.ggml.merges", GgufValue::StrArray({"a b", "b c"}));
    ExpectGgufError(w, {"merge 1", "'c'"});
  }
  {
    GgufWriter w;  // scores of the wrong length
    w.Set("tokenizer.ggml.model", GgufValue::Str("llama"));
    w.Set("tokenizer.ggml.tokens", GgufValue::StrArray({"<unk>", "<s>", "</s>", "a"}));
    w.Set("tokenizer.ggml.scores", GgufValue::F32Array({0.0f}));
    ExpectGgufError(w, {"scores"});
  }
  {
    GgufWriter w;  // a flag of the wrong type
    w.Set("tokenizer.ggml.model", GgufValue::Str("llama"));
    w.Set("tokenizer.ggml.tokens", GgufValue::StrArray({"<unk>", "<s>", "</s>", "a"}));
    w.Set("tokenizer.ggml.add_bos_token", GgufValue::U32(1));
    ExpectGgufError(w, {"add_bos_token"});
  }
  {
    GgufWriter w;  // an unknown pre-tokenizer
    w.Set("tokenizer.ggml.model", GgufValue::Str("gpt2"));
    w.Set("tokenizer.ggml.pre", GgufValue::Str("no-such-pre"));
    w.Set("tokenizer.ggml.tokens", GgufValue::StrArray({"a", "b", "ab"}));
    w.Set("tokenizer.ggml.merges", GgufValue::StrArray({"a b"}));
    ExpectGgufError(w, {"no-such-pre"});
  }
}

}  // namespace
}  // namespace leanlm
