// End-to-end: the leanlm program on the real stories260K model reproduces the
// published llama2.c outputs, from every format.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "support/cli_runner.h"

namespace leanlm::testing {
namespace {

class StoriesCli : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = SharedData();
    if (data_.empty()) GTEST_SKIP() << "../shared/data is absent: skipping the stories260K end-to-end tests";
    reference_ = nlohmann::json::parse(ReadAll(data_ + "/stories260K/reference.json"));
  }
  std::string model(const std::string& name) const { return data_ + "/stories260K/" + name; }
  std::string expected_text() const { return reference_["greedy_t0_steps256_empty_prompt"]["text"]; }

  std::string data_;
  nlohmann::json reference_;
};

TEST_F(StoriesCli, GreedyFromGgufMatchesLlama2c) {
  const CliResult r = RunCli({"run", "-m", model("stories260K.gguf"), "-p", "", "-n", "256", "--temp", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, expected_text());
}

TEST_F(StoriesCli, GreedyFromLlama2cCheckpointMatches) {
  const CliResult r = RunCli({"run", "-m", model("stories260K.bin"), "--tokenizer", model("tok512.bin"), "-p", "",
                              "-n", "256", "--temp", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, expected_text());
}

TEST_F(StoriesCli, GreedyFromConvertedHfDirectoryMatches) {
  TempDir tmp;
  const std::string hf = tmp / "stories260K-hf";
  const CliResult conv = RunCli({"convert", model("stories260K.gguf"), hf});
  ASSERT_EQ(conv.exit_code, 0) << conv.err;
  const CliResult r = RunCli({"run", "-m", hf, "-p", "", "-n", "256", "--temp", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, expected_text());
}

TEST_F(StoriesCli, PerplexityOfGoldenSentence) {
  const auto& golden = reference_["perplexity_golden_fp32"];
  const CliResult r = RunCli({"perplexity", "-m", model("stories260K.gguf"), "-p", golden["sentence"], "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const double nll = golden["nll"];
  EXPECT_EQ(j["predicted_tokens"].get<int>(), golden["n_tokens"].get<int>() - 1);
  EXPECT_NEAR(j["total_nll"].get<double>(), nll, 1e-4 * nll);
  EXPECT_NEAR(j["ppl"].get<double>(), golden["perplexity"].get<double>(), 1e-4 * golden["perplexity"].get<double>());
}

TEST_F(StoriesCli, TokenizeMatchesLlama2cEncoder) {
  for (const auto& [text, ids] : reference_["encode_vectors_tok512"].items()) {
    std::string expected;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) expected += ' ';
      expected += std::to_string(ids[i].get<int>());
    }
    for (const std::string& vocab : {model("tok512.bin"), model("stories260K.gguf")}) {
      const CliResult r = RunCli({"tokenize", "-m", vocab, "-p", text});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      EXPECT_EQ(r.out, expected + "\n") << "text: '" << text << "' vocabulary " << vocab;
    }
  }
}

}  // namespace
}  // namespace leanlm::testing
