// Vocabulary loaders: tokenizer.json written by leanlm reads back into the
// same tokenizer (checked against llama.cpp's vectors, not against itself),
// and bad files give errors that name the file and the problem.
#include "tokenizer/vocab_loaders.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace leanlm {
namespace {

using testing::DataDir;
using testing::FileExists;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/leanlm_vocab_XXXXXX";
    path_ = mkdtemp(tmpl) ? tmpl : "/tmp";
  }
  ~TempDir() {
    for (const char* f : {"/tokenizer.json", "/tokenizer_config.json"}) ::unlink((path_ + f).c_str());
    ::rmdir(path_.c_str());
  }
  std::string file(const char* name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::unique_ptr<Tokenizer> MustCreate(VocabData v) {
  auto tok = Tokenizer::Create(std::move(v));
  EXPECT_TRUE(tok.ok()) << tok.status().message();
  return tok.ok() ? std::move(tok).value() : nullptr;
}

void ExpectVectors(const Tokenizer& tok, const std::string& name) {
  const std::string base = DataDir() + "/vocab/ggml-vocab-" + name + ".gguf";
  const auto cases = testing::ReadVocabCases(base + ".inp", base + ".out");
  ASSERT_GT(cases.size(), 40u);
  for (const auto& c : cases) EXPECT_EQ(tok.Encode(c.text, false, false), c.ids) << name << ": '" << c.text << "'";
}

// LLaMA-3's tokenizer.json -> leanlm's export -> the same vocabulary and
// still llama.cpp's llama-bpe vectors.
TEST(TokenizerJson, ByteLevelRoundTrip) {
  const std::string json = DataDir() + "/tokenizers/llama3_tokenizer.json";
  if (!FileExists(json)) GTEST_SKIP() << "no " << json;
  auto original = VocabFromTokenizerJson(json, DataDir() + "/tokenizers/llama3_tokenizer_config.json");
  ASSERT_TRUE(original.ok()) << original.status().message();
  TempDir dir;
  ASSERT_TRUE(VocabToTokenizerJson(*original, dir.file("tokenizer.json"), dir.file("tokenizer_config.json")).ok());
  auto back = VocabFromTokenizerJson(dir.file("tokenizer.json"), dir.file("tokenizer_config.json"));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->model, original->model);
  EXPECT_EQ(back->pre, original->pre);
  EXPECT_EQ(back->tokens, original->tokens);
  EXPECT_EQ(back->token_types, original->token_types);
  EXPECT_EQ(back->merges, original->merges);
  EXPECT_EQ(back->bos_id, original->bos_id);
  EXPECT_EQ(back->eos_id, original->eos_id);
  EXPECT_EQ(back->add_bos, original->add_bos);
  EXPECT_EQ(back->chat_template, original->chat_template);
  auto tok = MustCreate(std::move(back).value());
  ASSERT_NE(tok, nullptr);
  ExpectVectors(*tok, "llama-bpe");
}

// LLaMA's SentencePiece vocabulary (from llama2.c's tokenizer.bin) exported as
// a byte-fallback BPE tokenizer.json: scores come back from merge ranks and
// still give SentencePiece's own encodings (llama.cpp's llama-spm vectors).
TEST(TokenizerJson, SentencePieceRoundTrip) {
  const std::string bin = DataDir() + "/llama2c/tokenizer.bin";
  if (!FileExists(bin)) GTEST_SKIP() << "no " << bin;
  auto original = VocabFromLlama2cTokenizer(bin);
  ASSERT_TRUE(original.ok()) << original.status().message();
  original->chat_template = "{{ '[INST] ' + x }}";
  TempDir dir;
  ASSERT_TRUE(VocabToTokenizerJson(*original, dir.file("tokenizer.json"), dir.file("tokenizer_config.json")).ok());
  auto back = VocabFromTokenizerJson(dir.file("tokenizer.json"), dir.file("tokenizer_config.json"));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->model, "llama");
  EXPECT_EQ(back->tokens, original->tokens);
  EXPECT_EQ(back->token_types, original->token_types);
  EXPECT_TRUE(back->add_space_prefix);
  EXPECT_TRUE(back->add_bos);
  EXPECT_EQ(back->bos_id, 1);
  EXPECT_EQ(back->eos_id, 2);
  EXPECT_EQ(back->unk_id, 0);
  EXPECT_EQ(back->chat_template, original->chat_template);
  auto tok = MustCreate(std::move(back).value());
  ASSERT_NE(tok, nullptr);
  ExpectVectors(*tok, "llama-spm");
}

TEST(TokenizerJson, ChatTemplateListTakesDefault) {
  const std::string json =
      R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]},
          "pre_tokenizer": {"type": "ByteLevel"}})";
  const std::string config =
      R"({"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}],
          "eos_token": {"content": "ab"}, "add_bos_token": false})";
  auto v = VocabFromTokenizerJsonText(json, config, "mem.json");
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->chat_template, "D");
  EXPECT_EQ(v->eos_id, 2);
  EXPECT_EQ(v->pre, "gpt-2");
  EXPECT_EQ(v->merges, std::vector<std::string>{"a b"});
}

void ExpectError(const Result<VocabData>& r, const std::vector<std::string>& parts) {
  ASSERT_FALSE(r.ok());
  for (const auto& p : parts) EXPECT_NE(r.status().message().find(p), std::string::npos) << r.status().message();
}

TEST(TokenizerJson, BadInput) {
  ExpectError(VocabFromTokenizerJsonText(R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}})", "", "wp.json"),
              {"wp.json", "WordPiece"});
  ExpectError(VocabFromTokenizerJsonText(R"({"model": {"type": "Unigram", "vocab": [["a", 0.0]]}})", "", "u.json"),
              {"u.json", "Unigram"});
  ExpectError(VocabFromTokenizerJsonText(R"({"model": {"type": "BPE", "vocab": {"a": 0}, )", "", "cut.json"),
              {"cut.json", "parse error"});
  const std::string bad_utf8 = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"\xff\": 0}}}";
  ExpectError(VocabFromTokenizerJsonText(bad_utf8, "", "utf.json"), {"utf.json"});
  ExpectError(VocabFromTokenizerJsonText(
                  R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a zz"]},
                      "pre_tokenizer": {"type": "ByteLevel"}})",
                  "", "m.json"),
              {"m.json", "merge 0", "'zz'"});
  ExpectError(VocabFromTokenizerJsonText(
                  R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["ab"]},
                      "pre_tokenizer": {"type": "ByteLevel"}})",
                  "", "m2.json"),
              {"m2.json", "merges[0]"});
  ExpectError(VocabFromTokenizerJsonText(R"({"model": {"type": "BPE", "vocab": {"a": 1000000000}}})", "", "id.json"),
              {"id.json", "'a'", "1000000000"});
  ExpectError(VocabFromTokenizerJsonText(R"({"model": {"type": "BPE", "vocab": {"a": -1}}})", "", "neg.json"),
              {"neg.json", "'a'"});
  ExpectError(VocabFromTokenizerJsonText(
                  R"({"model": {"type": "BPE", "vocab": {"a": 0}}, "added_tokens": [{"id": "x", "content": "<s>"}]})",
                  "", "add.json"),
              {"add.json", "added_tokens[0]"});
  ExpectError(VocabFromTokenizerJsonText(R"({"model": {"type": "BPE", "vocab": {"a": 0}},
                                            "pre_tokenizer": {"type": "Whitespace"}})",
                                         "", "ws.json"),
              {"ws.json", "ByteLevel"});
  ExpectError(VocabFromTokenizerJsonText(R"({"model": {"type": "BPE", "vocab": {"a": 0}},
                                            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                                              {"type": "Split", "pattern": {"Regex": "x+"}}, {"type": "ByteLevel"}]}})",
                                         "", "re.json"),
              {"re.json", "unrecognized", "x+"});
  ExpectError(VocabFromTokenizerJsonText("[]", "", "arr.json"), {"arr.json"});
  ExpectError(VocabFromTokenizerJson("/nonexistent/tokenizer.json", ""), {"/nonexistent/tokenizer.json"});
}

std::string Llama2cFile(int32_t max_len, const std::vector<std::pair<float, std::string>>& tokens) {
  std::string out(reinterpret_cast<const char*>(&max_len), 4);
  for (const auto& [score, text] : tokens) {
    const auto len = static_cast<int32_t>(text.size());
    out.append(reinterpret_cast<const char*>(&score), 4);
    out.append(reinterpret_cast<const char*>(&len), 4);
    out += text;
  }
  return out;
}

TEST(Llama2cTokenizer, BadInput) {
  const std::vector<std::pair<float, std::string>> ok_tokens = {
      {0, "<unk>"}, {0, "\n<s>\n"}, {0, "\n</s>\n"}, {-1, " a"}, {-2, "a"}};
  const std::string good = Llama2cFile(6, ok_tokens);
  auto v = VocabFromLlama2cTokenizerBytes(good, "good.bin");
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->tokens[1], "<s>");
  EXPECT_EQ(v->tokens[3], "\xE2\x96\x81" "a");
  // The format has no token count: a file cut at a record boundary is a
  // smaller vocabulary (valid from 3 tokens on); any other cut is an error
  // that names the file and a byte offset.
  std::vector<size_t> boundaries = {4};
  for (const auto& t : ok_tokens) boundaries.push_back(boundaries.back() + 8 + t.second.size());
  for (size_t cut = 0; cut < good.size(); ++cut) {
    const auto at = std::find(boundaries.begin(), boundaries.end(), cut);
    const auto cut_view = std::string_view(good).substr(0, cut);
    if (at != boundaries.end() && at - boundaries.begin() >= 3) {
      auto smaller = VocabFromLlama2cTokenizerBytes(cut_view, "cut.bin");
      ASSERT_TRUE(smaller.ok()) << smaller.status().message();
      EXPECT_EQ(smaller->tokens.size(), static_cast<size_t>(at - boundaries.begin()));
    } else {
      ExpectError(VocabFromLlama2cTokenizerBytes(cut_view, "cut.bin"), {"cut.bin", "byte"});
    }
  }
  ExpectError(VocabFromLlama2cTokenizerBytes(Llama2cFile(0, ok_tokens), "zero.bin"), {"zero.bin", "max_token_length"});
  ExpectError(VocabFromLlama2cTokenizerBytes(Llama2cFile(3, ok_tokens), "long.bin"), {"long.bin", "length 5"});
  std::string negative = good;
  const int32_t minus_one = -1;
  std::memcpy(&negative[8], &minus_one, 4);  // first token's length
  ExpectError(VocabFromLlama2cTokenizerBytes(negative, "neg.bin"), {"neg.bin", "byte 8", "length -1"});
  auto bad_utf8 = ok_tokens;
  bad_utf8[4].second = "\xC3";
  ExpectError(VocabFromLlama2cTokenizerBytes(Llama2cFile(6, bad_utf8), "utf.bin"), {"utf.bin", "token 4", "UTF-8"});
  ExpectError(VocabFromLlama2cTokenizer("/nonexistent/tokenizer.bin"), {"/nonexistent/tokenizer.bin"});
}

TEST(Vocab, ValidateRejectsInconsistentData) {
  VocabData v;
  v.model = "gpt2";
  v.pre = "gpt-2";
  v.tokens = {"a", "b", "ab"};
  v.merges = {"a b"};
  v.add_bos = false;
  EXPECT_TRUE(v.Validate("v").ok()) << v.Validate("v").message();
  auto expect = [](const VocabData& bad, const char* what) {
    const Status s = bad.Validate("v");
    ASSERT_FALSE(s.ok()) << what;
    EXPECT_NE(s.message().find(what), std::string::npos) << s.message();
    EXPECT_FALSE(Tokenizer::Create(bad).ok()) << what;
  };
  VocabData b = v;
  b.bos_id = 3;
  expect(b, "bos token id 3");
  b = v;
  b.eos_id = -2;
  expect(b, "eos token id -2");
  b = v;
  b.add_bos = true;
  expect(b, "no BOS");
  b = v;
  b.merges = {"a c"};
  expect(b, "'c'");
  b = v;
  b.merges = {"ab"};
  expect(b, "merge 0");
  b = v;
  b.scores = {0.0f};
  expect(b, "scores");
  b = v;
  b.token_types = {1, 1, 9};
  expect(b, "token type 9");
  b = v;
  b.pre = "no-such-pre";
  expect(b, "no-such-pre");
  b = v;
  b.model = "bert";
  expect(b, "'bert'");
  b = v;
  b.tokens[0] = "\xE2\x82";
  b.merges.clear();
  expect(b, "not valid UTF-8");
  b = v;
  b.tokens.clear();
  b.merges.clear();
  expect(b, "no tokens");
}

TEST(Vocab, IdsOutOfRangeAreHarmless) {
  const std::string bin = DataDir() + "/stories260K/tok512.bin";
  if (!FileExists(bin)) GTEST_SKIP() << "no " << bin;
  auto v = VocabFromLlama2cTokenizer(bin);
  ASSERT_TRUE(v.ok());
  auto tok = MustCreate(std::move(v).value());
  EXPECT_EQ(tok->TokenToPiece(-5), "");
  EXPECT_EQ(tok->TokenToPiece(512), "");
  EXPECT_EQ(tok->Decode({-1, 100000, 403}), tok->Decode({403}));
  EXPECT_FALSE(tok->IsEndOfGeneration(-1));
  EXPECT_FALSE(tok->IsEndOfGeneration(1 << 30));
  EXPECT_EQ(tok->type(9999), TokenType::kUndefined);
}

}  // namespace
}  // namespace leanlm
