// Format detection and dispatch over the real files in ../shared/data.
#include "io/model_source.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sys/stat.h>

#include "io/gguf.h"
#include "io/gguf_model.h"
#include "gguf_test_util.h"

namespace leanlm {
namespace {

using testing_util::DataDir;
using testing_util::FileExists;
using testing_util::TempDir;

std::string Stories(const char* name) { return DataDir() + "/stories260K/" + name; }

void WriteText(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

bool HaveStories() { return FileExists(Stories("stories260K.gguf")) && FileExists(Stories("tok512.bin")); }

TEST(ModelSource, Detect) {
  if (!HaveStories()) GTEST_SKIP() << "../shared/data/stories260K not present";
  EXPECT_EQ(DetectModelFormat(Stories("stories260K.gguf")).value(), ModelFormat::kGguf);
  EXPECT_EQ(DetectModelFormat(Stories("stories260K.bin")).value(), ModelFormat::kLlama2c);

  auto tok = DetectModelFormat(Stories("tok512.bin"));
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.status().message().find("unknown model format"), std::string::npos) << tok.status().message();
  EXPECT_NE(tok.status().message().find("tok512.bin"), std::string::npos);

  TempDir tmp;
  ::mkdir(tmp.File("hf").c_str(), 0755);
  auto no_config = DetectModelFormat(tmp.File("hf"));
  ASSERT_FALSE(no_config.ok());
  EXPECT_NE(no_config.status().message().find("without config.json"), std::string::npos);
  WriteText(tmp.File("hf/config.json"), "{}");
  EXPECT_EQ(DetectModelFormat(tmp.File("hf")).value(), ModelFormat::kHfDir);

  WriteText(tmp.File("notes.txt"), "hello, this is not a model at all");
  auto text = DetectModelFormat(tmp.File("notes.txt"));
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.status().message().find("magic 'hell'"), std::string::npos) << text.status().message();
  auto missing = DetectModelFormat(tmp.File("nothing.gguf"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no such file"), std::string::npos);
  WriteText(tmp.File("empty.bin"), "");
  EXPECT_FALSE(DetectModelFormat(tmp.File("empty.bin")).ok());
}

TEST(ModelSource, LoadGguf) {
  if (!HaveStories()) GTEST_SKIP() << "../shared/data/stories260K not present";
  auto src = LoadModelSource(Stories("stories260K.gguf"));
  ASSERT_TRUE(src.ok()) << src.status().message();
  EXPECT_EQ(src->format, ModelFormat::kGguf);
  EXPECT_EQ(src->config.n_embd, 64);
  EXPECT_EQ(src->tensors.size(), 48u);
  ASSERT_TRUE(src->vocab.has_value());
  EXPECT_EQ(src->vocab->tokens.size(), 512u);
  EXPECT_EQ(src->vocab->model, "llama");
  EXPECT_FALSE(src->keep_alive.empty());
}

// llama.cpp keeps Llama-3 RoPE scaling in rope_freqs.weight; the source
// carries it in the config only, so the model applies it once.
TEST(ModelSource, RopeFreqsBecomeConfig) {
  TempDir tmp;
  ModelConfig c;
  c.n_vocab = 4;
  c.n_embd = 16;
  c.n_layer = 1;
  c.n_head = 1;
  c.n_head_kv = 1;
  c.n_ff = 8;
  c.head_dim = 16;
  c.rope_theta = 10000;
  c.rope_scaling = RopeScaling::kLlama3;
  c.rope_factor = 8;
  c.rope_orig_ctx = 64;
  const std::vector<float> factors = Llama3RopeFactors(c);
  const std::vector<float> embd(16 * 4, 0.5f);
  GgufWriter w;
  ConfigToGguf(c, w);
  TensorView fv, ev;
  fv.data = factors.data();
  fv.n_dims = 1;
  fv.ne = {8, 1, 1, 1};
  ev.data = embd.data();
  ev.n_dims = 2;
  ev.ne = {16, 4, 1, 1};
  ASSERT_TRUE(w.AddTensor(kRopeFreqsTensor, fv).ok());
  ASSERT_TRUE(w.AddTensor("token_embd.weight", ev).ok());
  ASSERT_TRUE(w.Write(tmp.File("l3.gguf")).ok());
  auto src = LoadModelSource(tmp.File("l3.gguf"));
  ASSERT_TRUE(src.ok()) << src.status().message();
  EXPECT_EQ(src->config.rope_scaling, RopeScaling::kLlama3);
  EXPECT_EQ(src->tensors.count(kRopeFreqsTensor), 0u);
  EXPECT_EQ(src->tensors.count("token_embd.weight"), 1u);
  EXPECT_FALSE(src->vocab.has_value());
  const std::vector<float> again = Llama3RopeFactors(src->config);
  for (size_t i = 0; i < again.size(); ++i) EXPECT_NEAR(again[i], factors[i], 1e-5f * factors[i]) << i;
}

TEST(ModelSource, LoadLlama2cWithTokenizer) {
  if (!HaveStories()) GTEST_SKIP() << "../shared/data/stories260K not present";
  auto bare = LoadModelSource(Stories("stories260K.bin"));
  ASSERT_TRUE(bare.ok()) << bare.status().message();
  EXPECT_EQ(bare->format, ModelFormat::kLlama2c);
  EXPECT_FALSE(bare->vocab.has_value());

  LoadOptions options;
  options.tokenizer_path = Stories("tok512.bin");
  auto src = LoadModelSource(Stories("stories260K.bin"), options);
  ASSERT_TRUE(src.ok()) << src.status().message();
  ASSERT_TRUE(src->vocab.has_value());
  // The same tokenizer as the one embedded in llama.cpp's GGUF.
  auto gguf = GgufFile::Open(Stories("stories260K.gguf"));
  ASSERT_TRUE(gguf.ok());
  EXPECT_EQ(src->vocab->tokens, (*gguf)->GetStringArray("tokenizer.ggml.tokens").value());

  options.tokenizer_path = Stories("nonexistent.bin");
  auto bad = LoadModelSource(Stories("stories260K.bin"), options);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("nonexistent.bin"), std::string::npos);
}

TEST(ModelSource, TokenizerOverridesGgufVocab) {
  const std::string spm = DataDir() + "/vocab/ggml-vocab-llama-spm.gguf";
  if (!HaveStories() || !FileExists(spm)) GTEST_SKIP() << "../shared/data not present";
  LoadOptions options;
  options.tokenizer_path = spm;
  auto src = LoadModelSource(Stories("stories260K.gguf"), options);
  ASSERT_TRUE(src.ok()) << src.status().message();
  EXPECT_EQ(src->vocab->tokens.size(), 32000u);
}

TEST(ModelSource, LoadVocabFormats) {
  if (!HaveStories()) GTEST_SKIP() << "../shared/data/stories260K not present";
  auto from_gguf = LoadVocab(Stories("stories260K.gguf"));
  ASSERT_TRUE(from_gguf.ok()) << from_gguf.status().message();
  auto from_bin = LoadVocab(Stories("tok512.bin"));
  ASSERT_TRUE(from_bin.ok()) << from_bin.status().message();
  EXPECT_EQ(from_gguf->tokens, from_bin->tokens);

  const std::string json = DataDir() + "/tokenizers/llama3_tokenizer.json";
  if (FileExists(json)) {
    auto from_json = LoadVocab(json);
    ASSERT_TRUE(from_json.ok()) << from_json.status().message();
    EXPECT_EQ(from_json->model, "gpt2");
    EXPECT_GE(from_json->tokens.size(), 128000u);

    // An HF directory: tokenizer.json (+ tokenizer_config.json) inside.
    TempDir tmp;
    ::mkdir(tmp.File("hf").c_str(), 0755);
    std::ifstream in(json, std::ios::binary);
    std::ofstream(tmp.File("hf/tokenizer.json"), std::ios::binary) << in.rdbuf();
    auto from_dir = LoadVocab(tmp.File("hf"));
    ASSERT_TRUE(from_dir.ok()) << from_dir.status().message();
    EXPECT_EQ(from_dir->tokens, from_json->tokens);
  }
  TempDir tmp;
  ::mkdir(tmp.File("empty").c_str(), 0755);
  auto empty_dir = LoadVocab(tmp.File("empty"));
  ASSERT_FALSE(empty_dir.ok());
  EXPECT_NE(empty_dir.status().message().find("without tokenizer.json"), std::string::npos);
  EXPECT_FALSE(LoadVocab(tmp.File("missing.json")).ok());
}

}  // namespace
}  // namespace leanlm
