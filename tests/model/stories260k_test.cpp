// A real pretrained model against published outputs: stories260K (GGUF)
// must greedy-decode exactly the 256 ids llama2.c's `run` printed, and score
// the reference sentence with the NLL in reference.json.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/model_source.h"
#include "model/llama.h"
#include "sample/sampler.h"

namespace leanlm {
namespace {

const std::string kDir = std::string(LEANLM_SOURCE_DIR) + "/../shared/data/stories260K";
constexpr int32_t kBos = 1;

class Stories260K : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string gguf = kDir + "/stories260K.gguf";
    if (!std::filesystem::exists(gguf) || !std::filesystem::exists(kDir + "/reference.json")) {
      GTEST_SKIP() << "../shared/data/stories260K is absent: skipping the stories260K reference test";
    }
    auto src = LoadModelSource(gguf);
    ASSERT_TRUE(src.ok()) << src.status().message();
    source_ = std::move(src).value();
    auto weights = BindWeights(source_.config, source_.tensors, gguf);
    ASSERT_TRUE(weights.ok()) << weights.status().message();
    model_ = std::make_unique<LlamaModel>(source_.config, std::move(weights).value());
    std::ifstream js(kDir + "/reference.json");
    reference_ = nlohmann::json::parse(js);
  }

  ModelSource source_;
  std::unique_ptr<LlamaModel> model_;
  nlohmann::json reference_;
  ThreadPool pool_{2};
};

// llama2.c semantics: BOS at position 0, then each argmax fed back, 256
// forward passes, stopping early if BOS comes out.
TEST_F(Stories260K, GreedyDecodeMatchesLlama2c) {
  const auto want = reference_.at("greedy_t0_steps256_empty_prompt").at("ids").get<std::vector<int32_t>>();
  const int64_t n_vocab = source_.config.n_vocab;
  KvCache cache(source_.config, 512);
  std::vector<float> logits(static_cast<size_t>(n_vocab));
  SamplerParams greedy;
  greedy.temperature = 0;
  Sampler sampler(greedy);
  std::vector<int32_t> got;
  int32_t token = kBos;
  for (int64_t pos = 0; pos < 256; ++pos) {
    ASSERT_TRUE(model_->Forward(&token, 1, pos, cache, logits.data(), false, pool_).ok());
    token = sampler.Sample(logits.data(), n_vocab);
    if (token == kBos) break;
    got.push_back(token);
  }
  EXPECT_EQ(got, want);
}

// Teacher-forced NLL of the golden sentence, summed over its n-1 predictions
// in nats (reference.json's perplexity_convention), the prompt all at once.
TEST_F(Stories260K, SentenceNllMatchesReference) {
  const auto& golden = reference_.at("perplexity_golden_fp32");
  const auto ids = reference_.at("encode_vectors_tok512").at(golden.at("sentence").get<std::string>())
                       .get<std::vector<int32_t>>();
  ASSERT_EQ(static_cast<int64_t>(ids.size()), golden.at("n_tokens").get<int64_t>());
  const int64_t n = static_cast<int64_t>(ids.size()), n_vocab = source_.config.n_vocab;
  KvCache cache(source_.config, n);
  std::vector<float> logits(static_cast<size_t>(n * n_vocab));
  ASSERT_TRUE(model_->Forward(ids.data(), n, 0, cache, logits.data(), true, pool_).ok());
  double nll = 0;
  for (int64_t j = 0; j + 1 < n; ++j) {
    const float* row = logits.data() + j * n_vocab;
    double max = row[0], sum = 0;
    for (int64_t i = 1; i < n_vocab; ++i) max = std::max(max, double{row[i]});
    for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(row[i] - max);
    nll -= row[ids[static_cast<size_t>(j + 1)]] - max - std::log(sum);
  }
  const double want = golden.at("nll").get<double>();
  EXPECT_NEAR(nll, want, 1e-4 * want);
}

}  // namespace
}  // namespace leanlm
