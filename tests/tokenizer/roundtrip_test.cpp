// Properties every tokenizer kind must have on any input: decoding an
// encoding gives the text back, and the streaming decoder emits valid UTF-8
// chunks that join to the same text.
#include <gtest/gtest.h>

#include <random>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab_loaders.h"
#include "tokenizer_test_util.h"

namespace leanlm {
namespace {

using testing::DataDir;
using testing::FileExists;

// Random text from pieces that stress tokenizers: ASCII, whitespace runs,
// 2/3/4-byte characters, emoji with ZWJ and variation selectors, combining
// marks, special-token lookalikes and byte-level markers.
std::string RandomText(std::mt19937& rng) {
  static const std::vector<std::string> kPieces = {
      "a", "Z", "the", " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n ", "0", "42", "1234567", "!", "?!", "'s",
      "'LL", "--", "\xC3\xA9", "\xC3\xBC", "\xD0\xBD\xD0\xB5", "\xE4\xBD\xA0\xE5\xA5\xBD", "\xE1\x9E\x80",
      "\xF0\x9F\xA6\x99", "\xF0\x9F\x98\xB6\xE2\x80\x8D\xF0\x9F\x8C\xAB\xEF\xB8\x8F", "e\xCC\x81", "a\xCC\x88\xCC\x81",
      "\xE2\x80\x83", "\xC2\xA0", "\xE3\x80\x80", "<s>", "</s>", "<unk>", "<|eot_id|>", "<|begin_of_text|>",
      "<0x41>", "\xE2\x96\x82", "\xC4\xA0", "[PAD]", "\xEF\xBF\xBD", "\x01", "\x7F"};
  std::uniform_int_distribution<size_t> piece(0, kPieces.size() - 1), count(0, 24), cp(0x20, 0x2FFFF);
  std::string s;
  const size_t n = count(rng);
  for (size_t i = 0; i < n; ++i) {
    if (rng() % 5 == 0) {
      uint32_t c = static_cast<uint32_t>(cp(rng));
      if (c >= 0xD800 && c <= 0xDFFF) c = 0x41;  // no surrogates in valid UTF-8
      if (c == 0x2581) c = 0x2582;                // see SentencePieceMarkerIsASpace
      AppendUtf8(s, c);
    } else {
      s += kPieces[piece(rng)];
    }
  }
  return s;
}

std::string RandomBytes(std::mt19937& rng) {
  std::string s(rng() % 40, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xFF);
  for (size_t at; (at = s.find("\xE2\x96\x81")) != std::string::npos;) s[at + 2] = '\x82';
  return s;
}

void CheckStream(const Tokenizer& tok, const std::vector<int32_t>& ids, const std::string& text) {
  StreamDecoder stream(tok, DecodeOptions{});  // from the start of the text, as Decode
  std::string joined;
  for (int32_t id : ids) {
    const std::string chunk = stream.Push(id);
    EXPECT_TRUE(IsValidUtf8(chunk)) << "chunk of '" << text << "'";
    joined += chunk;
  }
  const std::string rest = stream.Flush();
  EXPECT_TRUE(IsValidUtf8(rest));
  joined += rest;
  // Equal to Decode where that is valid UTF-8; otherwise its U+FFFD-sanitized form.
  EXPECT_EQ(joined, SanitizeUtf8(tok.Decode(ids))) << "'" << text << "'";
}

void CheckRoundTrips(const Tokenizer& tok, uint32_t seed) {
  std::mt19937 rng(seed);
  for (int i = 0; i < 400; ++i) {
    const std::string text = RandomText(rng);
    ASSERT_TRUE(IsValidUtf8(text));
    const auto ids = tok.Encode(text, false, false);
    EXPECT_EQ(tok.Decode(ids), text);
    CheckStream(tok, ids, text);
    const auto with_bos = tok.Encode(text, true, false);
    EXPECT_EQ(tok.Decode(with_bos, {.render_control = false}), text);
    // Special tokens parsed out of the text decode back to their text.
    const auto parsed = tok.Encode(text, false, true);
    EXPECT_EQ(tok.Decode(parsed), text);
    CheckStream(tok, parsed, text);
  }
  for (int i = 0; i < 200; ++i) {  // arbitrary bytes: lossless too (byte fallback / byte-level)
    const std::string bytes = RandomBytes(rng);
    const auto ids = tok.Encode(bytes, false, false);
    EXPECT_EQ(tok.Decode(ids), bytes);
    CheckStream(tok, ids, bytes);
  }
}

TEST(RoundTrip, SentencePieceTok512) {
  const std::string bin = DataDir() + "/stories260K/tok512.bin";
  if (!FileExists(bin)) GTEST_SKIP() << "no " << bin;
  auto tok = Tokenizer::Create(VocabFromLlama2cTokenizer(bin).value());
  ASSERT_TRUE(tok.ok());
  CheckRoundTrips(**tok, 1);
}

TEST(RoundTrip, SentencePieceLlama2) {
  const std::string bin = DataDir() + "/llama2c/tokenizer.bin";
  if (!FileExists(bin)) GTEST_SKIP() << "no " << bin;
  auto tok = Tokenizer::Create(VocabFromLlama2cTokenizer(bin).value());
  ASSERT_TRUE(tok.ok());
  CheckRoundTrips(**tok, 2);
}

TEST(RoundTrip, ByteLevelLlama3) {
  const std::string json = DataDir() + "/tokenizers/llama3_tokenizer.json";
  if (!FileExists(json)) GTEST_SKIP() << "no " << json;
  auto tok = Tokenizer::Create(VocabFromTokenizerJson(json, "").value());
  ASSERT_TRUE(tok.ok());
  CheckRoundTrips(**tok, 3);
}

// A byte-level vocabulary made here (no data needed): the 256 byte
// characters, a few merges and an end-of-turn token.
TEST(RoundTrip, ByteLevelSynthetic) {
  VocabData v;
  v.model = "gpt2";
  v.pre = "gpt-2";
  v.add_bos = false;
  for (int b = 0; b < 256; ++b) v.tokens.emplace_back(ByteToByteLevel(static_cast<uint8_t>(b)));
  const std::string g = "\xC4\xA0";  // "Ġ", the byte-level space
  for (const auto& [a, b] : std::vector<std::pair<std::string, std::string>>{
           {g, "t"}, {"h", "e"}, {g + "t", "he"}, {"i", "n"}, {"in", "g"}, {g, "a"}}) {
    v.merges.push_back(a + " " + b);
    v.tokens.push_back(a + b);
  }
  v.tokens.push_back("<|endoftext|>");
  v.eos_id = v.bos_id = static_cast<int32_t>(v.tokens.size() - 1);
  auto tok = Tokenizer::Create(v);
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  const auto ids = (*tok)->Encode(" the thing<|endoftext|>", false, true);
  // Byte b's character is token b; merges apply by rank: "Ġthe", then "Ġt" + "h" + "ing".
  const std::vector<int32_t> expected = {(*tok)->TokenId(g + "the"), (*tok)->TokenId(g + "t"), 'h',
                                         (*tok)->TokenId("ing"), v.eos_id};
  EXPECT_EQ(ids, expected);
  EXPECT_TRUE((*tok)->IsEndOfGeneration(v.eos_id));
  CheckRoundTrips(**tok, 4);
}

// SentencePiece writes spaces as U+2581 "▁" before merging, so a "▁" in the
// input is a space to it and decodes as one (SentencePiece and llama.cpp do
// the same): the one input SentencePiece tokenizers do not give back.
TEST(RoundTrip, SentencePieceMarkerIsASpace) {
  const std::string bin = DataDir() + "/stories260K/tok512.bin";
  if (!FileExists(bin)) GTEST_SKIP() << "no " << bin;
  auto tok = Tokenizer::Create(VocabFromLlama2cTokenizer(bin).value());
  ASSERT_TRUE(tok.ok());
  EXPECT_EQ((*tok)->Encode("a\xE2\x96\x81time", false, false), (*tok)->Encode("a time", false, false));
}

// The dummy-prefix space: stripped at the start and after control tokens,
// kept for continued text.
TEST(RoundTrip, SentencePieceDummyPrefix) {
  const std::string bin = DataDir() + "/stories260K/tok512.bin";
  if (!FileExists(bin)) GTEST_SKIP() << "no " << bin;
  auto tok = Tokenizer::Create(VocabFromLlama2cTokenizer(bin).value());
  ASSERT_TRUE(tok.ok());
  const Tokenizer& t = **tok;
  const auto once = t.Encode("Once upon", true, false);
  EXPECT_EQ(t.Decode(once), "<s>Once upon");
  EXPECT_EQ(t.Decode(once, {.render_control = false}), "Once upon");
  const auto more = t.Encode("a time", false, false);  // starts with "▁a"
  EXPECT_EQ(t.Decode(more, {.continuation = true}), " a time");
  StreamDecoder stream(t);  // by default a continuation
  std::string s;
  for (int32_t id : more) s += stream.Push(id);
  EXPECT_EQ(s + stream.Flush(), " a time");
  // Generation right after BOS prints without the dummy-prefix space (llama2.c).
  StreamDecoder after_bos(t);
  after_bos.ContinueAfter(t.bos());
  s.clear();
  for (int32_t id : t.Encode("Once upon", false, false)) s += after_bos.Push(id);
  EXPECT_EQ(s, "Once upon");
  StreamDecoder after_text(t);
  after_text.ContinueAfter(t.TokenId("\xE2\x96\x81" "a"));
  s.clear();
  for (int32_t id : more) s += after_text.Push(id);
  EXPECT_EQ(s, " a time");
  EXPECT_EQ(t.Decode(t.Encode("a<s>b", false, true)), "a<s>b");
}

}  // namespace
}  // namespace leanlm
