// Data on real tokenizers and text from ../shared/data (skipped when absent):
// packed TinyStories decodes back to the file, and chat lines formatted with
// a model's own template learn exactly the assistant's words.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "io/gguf.h"
#include "tokenizer/chat_template.h"
#include "train/data.h"
#include "train/data_loader.h"

namespace leanlm {
namespace {

std::string DataDir() { return std::string(LEANLM_SOURCE_DIR) + "/../shared/data"; }

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::unique_ptr<Tokenizer> LoadTokenizer(const std::string& path) {
  auto gguf = GgufFile::Open(path);
  if (!gguf.ok()) return nullptr;
  auto vocab = VocabFromGguf(*gguf.value());
  if (!vocab.ok()) return nullptr;
  auto tok = Tokenizer::Create(std::move(vocab).value());
  return tok.ok() ? std::move(tok).value() : nullptr;
}

TEST(DataSharedTest, PackedTinyStoriesDecodesToTheFile) {
  const std::string model = DataDir() + "/stories260K/stories260K.gguf";
  const std::string text_path = DataDir() + "/text/tinystories_valid_first1000.txt";
  if (!Exists(model) || !Exists(text_path)) GTEST_SKIP() << "needs " << model << " and " << text_path;
  auto tok = LoadTokenizer(model);
  ASSERT_NE(tok, nullptr);
  DatasetOptions options;
  options.train_path = text_path;
  options.data.ctx = 128;
  options.val_split = 0.05;
  options.seed = 1;
  auto data = LoadDataset(*tok, options);
  ASSERT_TRUE(data.ok()) << data.status().message();
  // Put the split back together in file order: rebuild without a split.
  options.val_split = 0;
  auto whole = LoadDataset(*tok, options);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(data->train.size() + data->val.size(), whole->train.size());
  std::vector<int32_t> stream;
  for (const Sequence& s : whole->train) {
    ASSERT_LE(s.tokens.size(), 128u);
    stream.insert(stream.end(), s.tokens.begin(), s.tokens.end());
  }
  stream.push_back(whole->train.back().labels.back());
  ASSERT_EQ(stream[0], tok->bos());
  std::ifstream in(text_path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(tok->Decode(std::vector<int32_t>(stream.begin() + 1, stream.end()), DecodeOptions{.render_control = false}),
            ss.str());
  EXPECT_EQ(whole->train_stats.loss_tokens, static_cast<int64_t>(stream.size()) - 1);
}

TEST(DataSharedTest, ChatWithTheModelsOwnTemplateLearnsTheAssistantWords) {
  const std::string model = DataDir() + "/vocab/ggml-vocab-phi-3.gguf";
  if (!Exists(model)) GTEST_SKIP() << "needs " << model;
  auto tok = LoadTokenizer(model);
  ASSERT_NE(tok, nullptr);
  if (tok->vocab().chat_template.empty()) GTEST_SKIP() << "the vocabulary has no chat template";
  DataOptions options;
  options.ctx = 512;
  options.chat_template = tok->vocab().chat_template;
  ASSERT_EQ(DetectChatTemplate(options.chat_template), ChatTemplateKind::kPhi3);
  const std::string line =
      R"({"messages": [{"role": "user", "content": "What is two plus two?"},)"
      R"( {"role": "assistant", "content": "Four."}, {"role": "user", "content": "And three plus three?"},)"
      R"( {"role": "assistant", "content": "Six, of course."}]})";
  auto seqs = SequencesFromJsonl(line, "chat.jsonl", *tok, options, nullptr);
  ASSERT_TRUE(seqs.ok()) << seqs.status().message();
  ASSERT_EQ(seqs->size(), 1u);
  std::string learned;
  for (int32_t l : (*seqs)[0].labels) {
    if (l >= 0) learned += tok->TokenToPiece(l);
  }
  // Phi-3: "<|assistant|>\n" opens the turn, "<|end|>\n" closes it (and
  // SentencePiece puts its dummy-prefix space after the control token).
  EXPECT_EQ(learned, "Four.<|end|> \nSix, of course.<|end|> \n");
  EXPECT_NE(learned.find("Four"), std::string::npos) << learned;
  EXPECT_NE(learned.find("course"), std::string::npos) << learned;
  EXPECT_NE(learned.find("<|end|>"), std::string::npos) << learned;
  EXPECT_EQ(learned.find("two"), std::string::npos) << learned;
  EXPECT_EQ(learned.find("three"), std::string::npos) << learned;
  EXPECT_EQ(learned.find("<|assistant|>"), std::string::npos) << learned;
  EXPECT_EQ(learned.find("<|user|>"), std::string::npos) << learned;
}

}  // namespace
}  // namespace leanlm
