// Data: packing, loss masks for completions and chat turns, bad lines,
// validation split, shuffling and resumable positions.
#include "train/data.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "train/data_jsonl.h"
#include "train/data_loader.h"
#include "train/data_test_util.h"

namespace leanlm {
namespace {

using testing::MakeTestTokenizer;
using testing::Pieces;

// The labelled tokens of a sequence, in order.
std::vector<int32_t> Labelled(const Sequence& s) {
  std::vector<int32_t> out;
  for (int32_t l : s.labels) {
    if (l >= 0) out.push_back(l);
  }
  return out;
}

Result<std::vector<Sequence>> Jsonl(const std::string& content, const Tokenizer& t, DataOptions options = {},
                                    DataStats* stats = nullptr) {
  return SequencesFromJsonl(content, "d.jsonl", t, options, stats);
}

TEST(DataTest, PackedTextIsTheTokenStreamShiftedByOne) {
  auto tok = MakeTestTokenizer();
  const std::string text = "hello world, the world says hi there; yes hello again and again";
  const std::vector<int32_t> ids = tok->Encode(text, false, false);
  std::vector<int32_t> stream{tok->bos()};
  stream.insert(stream.end(), ids.begin(), ids.end());
  DataOptions options;
  options.ctx = 7;
  DataStats stats;
  auto seqs = SequencesFromText(text, *tok, options, &stats);
  ASSERT_TRUE(seqs.ok()) << seqs.status().message();
  // Inputs are stream[0..N-1) cut into windows of 7; labels are the next tokens.
  std::vector<int32_t> inputs, labels;
  for (size_t k = 0; k < seqs->size(); ++k) {
    const Sequence& s = (*seqs)[k];
    ASSERT_EQ(s.tokens.size(), s.labels.size());
    if (k + 1 < seqs->size()) {
      EXPECT_EQ(s.tokens.size(), 7u);
    }
    inputs.insert(inputs.end(), s.tokens.begin(), s.tokens.end());
    labels.insert(labels.end(), s.labels.begin(), s.labels.end());
  }
  EXPECT_EQ(inputs, std::vector<int32_t>(stream.begin(), stream.end() - 1));
  EXPECT_EQ(labels, std::vector<int32_t>(stream.begin() + 1, stream.end()));
  EXPECT_EQ(stats.tokens, static_cast<int64_t>(stream.size()) - 1);
  EXPECT_EQ(stats.loss_tokens, stats.tokens);
  EXPECT_EQ(stats.sequences, static_cast<int64_t>(seqs->size()));
}

TEST(DataTest, TextLinesArePackedWithBosPerDocumentAndItsPredictionMasked) {
  auto tok = MakeTestTokenizer();
  DataOptions options;
  options.ctx = 64;
  auto seqs = Jsonl("{\"text\": \"hello\"}\n\n{\"text\": \"world\", \"id\": 7}\n", *tok, options);
  ASSERT_TRUE(seqs.ok()) << seqs.status().message();
  ASSERT_EQ(seqs->size(), 1u);
  const Sequence& s = (*seqs)[0];
  std::vector<int32_t> want{tok->bos()};
  for (int32_t id : tok->Encode("hello", false, false)) want.push_back(id);
  const size_t second_bos = want.size();
  want.push_back(tok->bos());
  for (int32_t id : tok->Encode("world", false, false)) want.push_back(id);
  EXPECT_EQ(s.tokens, std::vector<int32_t>(want.begin(), want.end() - 1));
  for (size_t i = 0; i < s.labels.size(); ++i) {
    EXPECT_EQ(s.labels[i], i + 1 == second_bos ? -1 : want[i + 1]) << i;
  }
}

TEST(DataTest, PromptCompletionLearnsTheCompletionAndEos) {
  auto tok = MakeTestTokenizer();
  DataStats stats;
  auto seqs = Jsonl("{\"prompt\": \"say hello:\", \"completion\": \" yes there\"}\n", *tok, {}, &stats);
  ASSERT_TRUE(seqs.ok()) << seqs.status().message();
  ASSERT_EQ(seqs->size(), 1u);
  const Sequence& s = (*seqs)[0];
  std::vector<int32_t> learned = Labelled(s);
  ASSERT_FALSE(learned.empty());
  EXPECT_EQ(learned.back(), tok->eos());
  learned.pop_back();
  EXPECT_EQ(Pieces(*tok, learned), " yes there");
  // The inputs are BOS, then the whole text's tokens.
  EXPECT_EQ(s.tokens[0], tok->bos());
  EXPECT_EQ(Pieces(*tok, std::vector<int32_t>(s.tokens.begin() + 1, s.tokens.end())), " say hello: yes there");
  EXPECT_EQ(stats.loss_tokens, static_cast<int64_t>(learned.size()) + 1);
}

TEST(DataTest, ChatLearnsAssistantTurnsOnly) {
  auto tok = MakeTestTokenizer();
  DataOptions options;
  options.ctx = 512;
  options.chat_template = "chatml";
  const std::string line =
      R"({"messages": [{"role": "system", "content": "be nice"}, {"role": "user", "content": "hi"},)"
      R"( {"role": "assistant", "content": "hello there"}, {"role": "user", "content": "the world?"},)"
      R"( {"role": "assistant", "content": "yes"}]})";
  auto seqs = Jsonl(line + "\n", *tok, options);
  ASSERT_TRUE(seqs.ok()) << seqs.status().message();
  ASSERT_EQ(seqs->size(), 1u);
  const Sequence& s = (*seqs)[0];
  // The assistant contents with their end-of-turn markup, nothing from the
  // other roles. (SentencePiece puts its dummy-prefix space after a control
  // token, as llama.cpp does: hence "<|im_end|> \n".)
  std::string learned;
  for (size_t i = 0; i < s.labels.size(); ++i) {
    if (s.labels[i] >= 0) learned += tok->TokenToPiece(s.labels[i]);
  }
  EXPECT_EQ(learned, "hello there<|im_end|> \nyes<|im_end|> \n");
  // The inputs are the whole conversation with the control tokens parsed.
  EXPECT_EQ(s.tokens[0], tok->bos());
  EXPECT_EQ(s.tokens[1], tok->TokenId("<|im_start|>"));
  EXPECT_EQ(s.labels[0], -1);
}

TEST(DataTest, LongSupervisedExamplesAreTruncatedAndEmptyOnesDropped) {
  auto tok = MakeTestTokenizer();
  DataOptions options;
  options.ctx = 6;
  DataStats stats;
  auto seqs = Jsonl("{\"prompt\": \"a\", \"completion\": \" hello world hello world hello world\"}\n"
                    "{\"prompt\": \"abcdefghijklmnop\", \"completion\": \"x\"}\n",
                    *tok, options, &stats);
  ASSERT_TRUE(seqs.ok()) << seqs.status().message();
  ASSERT_EQ(seqs->size(), 1u);
  EXPECT_EQ((*seqs)[0].tokens.size(), 6u);
  EXPECT_EQ(stats.truncated, 2);
  EXPECT_EQ(stats.dropped, 1);
}

TEST(DataTest, BadLinesNameFileAndLine) {
  auto tok = MakeTestTokenizer();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\"text\": \"ok\"}\nnot json\n", "d.jsonl:2"},
      {"{\"text\": 5}", "\"text\" must be a string"},
      {"[1, 2]", "expected a JSON object"},
      {"{\"prompt\": \"x\"}", "go together"},
      {"{\"prompt\": \"x\", \"completion\": \"\"}", "\"completion\" is empty"},
      {"{\"text\": \"a\", \"messages\": []}", "more than one"},
      {"{\"other\": 1}", "expected a \"text\""},
      {"{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}", "no \"assistant\""},
      {"{\"messages\": [{\"role\": \"assistant\"}]}", "messages[0] needs"},
      {"{\"messages\": [{\"role\": \"assistant\", \"content\": [1]}]}", "\"content\" must be a string"},
      {"{\"messages\": {}}", "must be an array"},
      {"{\"text\": \"a\", \"text\": \"b\"}", "duplicate key"},
      {std::string(100, '[') + std::string(100, ']'), "nested deeper"},
      {"{\"text\": \"\xff\"}", "d.jsonl:1"},
      {std::string("{\"text\": \"a\0b\"}", 15), "NUL byte"},
  };
  for (const auto& [content, want] : cases) {
    auto seqs = Jsonl(content, *tok);
    ASSERT_FALSE(seqs.ok()) << content;
    EXPECT_NE(seqs.status().message().find(want), std::string::npos) << seqs.status().message();
    EXPECT_EQ(seqs.status().message().rfind("d.jsonl:", 0), 0u) << seqs.status().message();
  }
}

TEST(DataTest, SkipBadCountsAndKeepsTheGoodLines) {
  auto tok = MakeTestTokenizer();
  DataOptions options;
  options.skip_bad = true;
  DataStats stats;
  auto seqs = Jsonl("{\"text\": \"hello\"}\n{oops\n{\"text\": 1}\n{\"text\": \"world\"}\n", *tok, options, &stats);
  ASSERT_TRUE(seqs.ok());
  EXPECT_EQ(stats.skipped, 2);
  EXPECT_EQ(stats.lines, 4);
  EXPECT_NE(stats.first_skip.find("d.jsonl:2"), std::string::npos);
  EXPECT_EQ(seqs->size(), 1u);
}

TEST(DataTest, LoadDatasetFromFilesWithSplitOrValidationFile) {
  auto tok = MakeTestTokenizer();
  const auto dir = std::filesystem::temp_directory_path() / ("leanlm_data_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string text;
  for (int i = 0; i < 50; ++i) text += "hello world the end " + std::to_string(i) + "\n";
  std::ofstream(dir / "train.txt") << text;
  std::ofstream(dir / "val.jsonl") << "{\"text\": \"hi there\"}\n";
  std::ofstream(dir / "empty.txt") << "";
  DatasetOptions options;
  options.train_path = dir / "train.txt";
  options.data.ctx = 16;
  options.val_split = 0.25;
  options.seed = 3;
  auto data = LoadDataset(*tok, options);
  ASSERT_TRUE(data.ok()) << data.status().message();
  const size_t total = data->train.size() + data->val.size();
  EXPECT_EQ(data->val.size(), static_cast<size_t>(std::llround(0.25 * static_cast<double>(total))));
  options.val_path = dir / "val.jsonl";
  EXPECT_FALSE(LoadDataset(*tok, options).ok());  // both a file and a split
  options.val_split = 0;
  data = LoadDataset(*tok, options);
  ASSERT_TRUE(data.ok()) << data.status().message();
  EXPECT_EQ(data->val.size(), 1u);
  options.train_path = dir / "empty.txt";
  EXPECT_FALSE(LoadDataset(*tok, options).ok());
  options.train_path = dir / "missing.txt";
  EXPECT_FALSE(LoadDataset(*tok, options).ok());
  std::filesystem::remove_all(dir);
}

std::vector<Sequence> Numbered(int n) {
  std::vector<Sequence> seqs(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) seqs[i] = {{i}, {i}};
  return seqs;
}

TEST(DataLoaderTest, SplitIsDeterministicDisjointAndComplete) {
  auto a = Numbered(40), b = Numbered(40), c = Numbered(40);
  std::vector<Sequence> va, vb, vc;
  ASSERT_TRUE(SplitValidation(a, 0.1, 7, va).ok());
  ASSERT_TRUE(SplitValidation(b, 0.1, 7, vb).ok());
  ASSERT_TRUE(SplitValidation(c, 0.1, 8, vc).ok());
  ASSERT_EQ(va.size(), 4u);
  EXPECT_EQ(a.size(), 36u);
  std::set<int32_t> seen;
  for (const auto& s : a) seen.insert(s.tokens[0]);
  for (size_t i = 0; i < va.size(); ++i) {
    EXPECT_EQ(va[i].tokens, vb[i].tokens);
    seen.insert(va[i].tokens[0]);
  }
  EXPECT_EQ(seen.size(), 40u);
  bool differs = false;
  for (size_t i = 0; i < va.size(); ++i) differs = differs || va[i].tokens != vc[i].tokens;
  EXPECT_TRUE(differs);
  auto one = Numbered(1);
  std::vector<Sequence> v;
  EXPECT_FALSE(SplitValidation(one, 0.5, 1, v).ok());
  EXPECT_FALSE(SplitValidation(a, 1.0, 1, v).ok());
}

TEST(DataLoaderTest, EpochsArePermutationsAndPositionsResume) {
  const auto seqs = Numbered(10);
  DataLoader loader(seqs, 42);
  std::vector<int32_t> epoch0, epoch1;
  for (int i = 0; i < 5; ++i) {
    for (const Sequence* s : loader.Next(2).sequences) epoch0.push_back(s->tokens[0]);
  }
  EXPECT_EQ(loader.position().epoch, 0);
  const DataPosition mid{1, 3};
  std::vector<int32_t> after_mid;
  for (int i = 0; i < 5; ++i) {
    if (loader.position().epoch == 1 && loader.position().index == 3) {
      for (int k = 0; k < 4; ++k) after_mid.push_back(loader.Next(1).sequences[0]->tokens[0]);
      break;
    }
    for (const Sequence* s : loader.Next(1).sequences) epoch1.push_back(s->tokens[0]);
  }
  EXPECT_EQ(std::set<int32_t>(epoch0.begin(), epoch0.end()).size(), 10u);
  EXPECT_NE(epoch0, std::vector<int32_t>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  // A fresh loader sought to (1, 3) gives what the first one gave from there.
  DataLoader resumed(seqs, 42);
  ASSERT_TRUE(resumed.Seek(mid).ok());
  for (int32_t want : after_mid) EXPECT_EQ(resumed.Next(1).sequences[0]->tokens[0], want);
  EXPECT_FALSE(resumed.Seek({0, 11}).ok());
  // A batch across the epoch boundary.
  DataLoader wrap(seqs, 1);
  EXPECT_EQ(wrap.Next(7).sequences.size(), 7u);
  EXPECT_EQ(wrap.Next(7).sequences.size(), 7u);
  EXPECT_EQ(wrap.position().epoch, 1);
  EXPECT_EQ(wrap.position().index, 4);
  const Batch b = MakeBatch({&seqs[0], &seqs[1]});
  EXPECT_EQ(b.tokens, 2);
  EXPECT_EQ(b.loss_tokens, 2);
}

TEST(DataLoaderTest, Xoshiro256StarStarReferenceOutputs) {
  // The reference generator's outputs from state {1, 2, 3, 4}
  // (as listed in rand_xoshiro's tests of xoshiro256**).
  TrainRng rng;
  ASSERT_TRUE(rng.set_state({1, 2, 3, 4}).ok());
  const uint64_t want[] = {11520, 0, 1509978240, 1215971899390074240};
  for (uint64_t w : want) EXPECT_EQ(rng.Next(), w);
  EXPECT_FALSE(rng.set_state({0, 0, 0, 0}).ok());
  TrainRng a(5), b(5);
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.Below(7);
    EXPECT_LT(x, 7u);
    EXPECT_EQ(x, b.Below(7));
    const double u = a.Uniform();
    EXPECT_TRUE(u >= 0.0 && u < 1.0);
    b.Uniform();
  }
}

}  // namespace
}  // namespace leanlm
