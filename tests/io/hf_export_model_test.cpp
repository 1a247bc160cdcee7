// The real stories260K model exported to an HF directory (SaveHfDir) and
// loaded back (LoadHfDir) — interleaved Q/K rows permuted to HF's halves,
// rope_neox flipped, vocabulary through tokenizer.json — still reproduces
// llama2.c's published greedy output. (GGUF -> HF -> GGUF is checked tensor
// by tensor in convert_test.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/hf_dir.h"
#include "io/llama2c.h"
#include "model/llama.h"
#include "tokenizer/vocab_loaders.h"

namespace leanlm {
namespace {

std::string StoriesDir() {
  const auto p = std::filesystem::path(LEANLM_SOURCE_DIR) / ".." / "shared" / "data" / "stories260K";
  return std::filesystem::exists(p) ? p.lexically_normal().string() : "";
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "hf_export_test_XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : "";
  }
  ~TempDir() {
    if (!path_.empty()) std::filesystem::remove_all(path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Greedy decoding from BOS (id 1) at position 0, llama2.c's `run -t 0`:
// `steps` forward passes, stopping early when BOS comes out.
std::vector<int32_t> Greedy(const ModelSource& src, int steps, std::vector<float>* first_logits) {
  auto weights = BindWeights(src.config, src.tensors, src.path);
  EXPECT_TRUE(weights.ok()) << weights.status().message();
  if (!weights.ok()) return {};
  LlamaModel model(src.config, std::move(weights).value());
  KvCache cache(src.config, steps);
  ThreadPool pool(2);
  std::vector<float> logits(static_cast<size_t>(src.config.n_vocab));
  std::vector<int32_t> out;
  int32_t token = 1;
  for (int pos = 0; pos < steps; ++pos) {
    const Status s = model.Forward(&token, 1, pos, cache, logits.data(), false, pool);
    EXPECT_TRUE(s.ok()) << s.message();
    if (!s.ok()) break;
    if (pos == 0 && first_logits) *first_logits = logits;
    token = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    if (token == 1) break;
    out.push_back(token);
  }
  return out;
}

TEST(HfExportModelTest, ExportedStories260KReproducesLlama2c) {
  const std::string dir = StoriesDir();
  if (dir.empty()) GTEST_SKIP() << "../shared/data is absent: skipping the stories260K export test";
  std::ifstream in(dir + "/reference.json");
  const auto expected = nlohmann::json::parse(in)["greedy_t0_steps256_empty_prompt"]["ids"].get<std::vector<int32_t>>();

  auto original = LoadLlama2c(dir + "/stories260K.bin", LoadOptions{});
  ASSERT_TRUE(original.ok()) << original.status().message();
  auto vocab = VocabFromLlama2cTokenizer(dir + "/tok512.bin");
  ASSERT_TRUE(vocab.ok()) << vocab.status().message();
  original->vocab = std::move(vocab).value();
  ASSERT_FALSE(original->config.rope_neox);  // Meta's interleaved layout, so the export must permute

  TempDir tmp;
  const Status saved = SaveHfDir(original.value(), tmp.path());
  ASSERT_TRUE(saved.ok()) << saved.message();
  auto exported = LoadHfDir(tmp.path(), LoadOptions{});
  ASSERT_TRUE(exported.ok()) << exported.status().message();
  EXPECT_TRUE(exported->config.rope_neox);
  ASSERT_TRUE(exported->vocab.has_value());
  EXPECT_EQ(exported->vocab->tokens, original->vocab->tokens);
  EXPECT_EQ(exported->vocab->bos_id, original->vocab->bos_id);
  EXPECT_EQ(exported->vocab->eos_id, original->vocab->eos_id);
  EXPECT_EQ(exported->config.tied_embeddings, original->config.tied_embeddings);
  EXPECT_EQ(exported->tensors.size(), original->tensors.size() - (original->tensors.count("output.weight") &&
                                                                   original->config.tied_embeddings));

  std::vector<float> a, b;
  const std::vector<int32_t> from_original = Greedy(original.value(), 256, &a);
  const std::vector<int32_t> from_export = Greedy(exported.value(), 256, &b);
  EXPECT_EQ(from_original, expected);
  EXPECT_EQ(from_export, expected);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-4f) << i;
}

}  // namespace
}  // namespace leanlm
