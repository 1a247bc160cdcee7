// End-to-end: leanlm compare and perplexity --kl-divergence-base / --kl-divergence
// on random models made with leanlm init, as a user would run them.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "support/cli_runner.h"

namespace leanlm::testing {
namespace {

class CompareCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    for (const char* seed : {"1", "2"}) {
      const CliResult r = RunCli({"init", "--preset", "tiny", "--seed", seed, "-o", *tmp_ / (std::string(seed) + ".gguf")});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    std::string text;
    for (int i = 0; i < 120; ++i) text += "Once upon a time a little fox " + std::to_string(i * 7919 % 1000) + " ran.\n";
    std::ofstream(*tmp_ / "text.txt") << text;
  }
  static void TearDownTestSuite() { delete tmp_; }
  static std::string P(const std::string& name) { return *tmp_ / name; }
  static TempDir* tmp_;
};
TempDir* CompareCli::tmp_ = nullptr;

nlohmann::json Json(const CliResult& r) {
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

TEST_F(CompareCli, ModelAgainstItself) {
  const auto j = Json(RunCli({"compare", P("1.gguf"), P("1.gguf"), "-f", P("text.txt"), "--ctx", "64", "--json"}));
  EXPECT_EQ(j["mode"], "chunks");
  EXPECT_GT(j["scored_tokens"].get<int>(), 100);
  EXPECT_EQ(j["kld"]["mean"]["value"].get<double>(), 0.0);
  EXPECT_EQ(j["kld"]["quantiles"]["max"].get<double>(), 0.0);
  EXPECT_EQ(j["same_top"]["value"].get<double>(), 1.0);
  EXPECT_EQ(j["ppl_ratio"]["value"].get<double>(), 1.0);
}

TEST_F(CompareCli, TextReportLikeLlamaCpp) {
  const CliResult r = RunCli({"compare", P("1.gguf"), P("2.gguf"), "-f", P("text.txt"), "--ctx", "64", "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* line : {"====== Perplexity statistics ======", "Mean PPL(Q)/PPL(base)", "Mean    KLD:",
                           "99.9%   KLD:", "Median  KLD:", "Minimum KLD:", "RMS Δp    :", "Same top p:"}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  }
}

TEST_F(CompareCli, DocumentsMode) {
  const auto j =
      Json(RunCli({"compare", P("1.gguf"), P("2.gguf"), "-f", P("text.txt"), "--docs", "\n", "--json"}));
  EXPECT_EQ(j["mode"], "documents");
  EXPECT_EQ(j["sequences"].get<int>(), 120);
  EXPECT_GT(j["kld"]["mean"]["value"].get<double>(), 0.0);
}

TEST_F(CompareCli, BaseFileRoundTripGivesCompareFigures) {
  const CliResult base = RunCli({"perplexity", "-m", P("1.gguf"), "-f", P("text.txt"), "--ctx", "64", "--json",
                                 "--kl-divergence-base", P("base.kld")});
  ASSERT_EQ(base.exit_code, 0) << base.err;
  const auto plain = Json(RunCli({"perplexity", "-m", P("1.gguf"), "-f", P("text.txt"), "--ctx", "64", "--json"}));
  EXPECT_EQ(nlohmann::json::parse(base.out)["ppl"], plain["ppl"]);

  const auto via_file = Json(RunCli({"perplexity", "-m", P("2.gguf"), "-f", P("text.txt"), "--kl-divergence-base",
                                     P("base.kld"), "--kl-divergence", "--json"}));
  const auto direct = Json(RunCli({"compare", P("1.gguf"), P("2.gguf"), "-f", P("text.txt"), "--ctx", "64", "--json"}));
  EXPECT_EQ(via_file["scored_tokens"], direct["scored_tokens"]);
  EXPECT_EQ(via_file["ppl"]["value"], direct["ppl"]["value"]);
  const double kld = direct["kld"]["mean"]["value"];
  EXPECT_GT(kld, 0.0);
  EXPECT_NEAR(via_file["kld"]["mean"]["value"].get<double>(), kld, 2e-3 * kld);
  EXPECT_NEAR(via_file["ppl_base"]["value"].get<double>(), direct["ppl_base"]["value"].get<double>(),
              2e-4 * direct["ppl_base"]["value"].get<double>());
}

TEST_F(CompareCli, BadInputFailsClearly) {
  // Another vocabulary.
  const std::string data = SharedData();
  if (!data.empty()) {
    const CliResult r = RunCli({"compare", P("1.gguf"), data + "/stories260K/stories260K.gguf", "-f", P("text.txt")});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("different vocabularies"), std::string::npos) << r.err;
  }
  // A truncated and a garbage base file.
  ASSERT_EQ(RunCli({"perplexity", "-m", P("1.gguf"), "-f", P("text.txt"), "--ctx", "64", "--kl-divergence-base",
                    P("t.kld")})
                .exit_code,
            0);
  const std::string bytes = ReadAll(P("t.kld"));
  std::ofstream(P("t.kld"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  CliResult r = RunCli({"perplexity", "-m", P("2.gguf"), "--kl-divergence-base", P("t.kld"), "--kl-divergence"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
  std::ofstream(P("g.kld"), std::ios::binary) << std::string(300, 'x');
  r = RunCli({"perplexity", "-m", P("2.gguf"), "--kl-divergence-base", P("g.kld"), "--kl-divergence"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not a llama.cpp logits file"), std::string::npos) << r.err;
  // Flags that do not go together.
  r = RunCli({"perplexity", "-m", P("2.gguf"), "--kl-divergence"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--kl-divergence-base"), std::string::npos) << r.err;
  r = RunCli({"perplexity", "-m", P("1.gguf"), "-f", P("text.txt"), "--docs", "\n", "--kl-divergence-base", P("d.kld")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("chunks"), std::string::npos) << r.err;
  r = RunCli({"compare", P("1.gguf")});
  EXPECT_EQ(r.exit_code, 2);
  r = RunCli({"compare", P("1.gguf"), P("missing.gguf"), "-f", P("text.txt")});
  EXPECT_EQ(r.exit_code, 1);
}

}  // namespace
}  // namespace leanlm::testing
