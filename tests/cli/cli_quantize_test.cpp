// leanlm quantize as a user runs it: the written model runs, info shows the
// recipe's types, and bad input fails cleanly without leaving a file.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/cli_runner.h"

namespace leanlm::testing {
namespace {

void ExpectCleanFailure(const CliResult& r, const std::string& must_mention) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_LT(r.exit_code, 128) << "killed by a signal: " << r.err;
  EXPECT_NE(r.err.find(must_mention), std::string::npos) << "stderr: " << r.err;
}

class QuantizeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    const CliResult r = RunCli({"init", "--preset", "tiny", "--type", "f32", "-o", model_});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  size_t FilesInTmp() const {
    return static_cast<size_t>(
        std::distance(std::filesystem::directory_iterator(tmp_.path()), std::filesystem::directory_iterator()));
  }

  TempDir tmp_;
  std::string model_ = tmp_ / "tiny.gguf";
};

TEST_F(QuantizeCli, QuantizesRunsAndShowsTypes) {
  const std::string out = tmp_ / "q4km.gguf";
  const CliResult q = RunCli({"quantize", model_, out, "q4_k_m", "-t", "2"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  EXPECT_NE(q.err.find("bits per weight"), std::string::npos) << q.err;
  // Rows of 64 and 160 do not hold 256-element blocks: the fallbacks are named.
  EXPECT_NE(q.err.find("rows of 160 (not a multiple of 256 for q6_K): using q8_0"), std::string::npos) << q.err;

  const CliResult info = RunCli({"info", out});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("q5_0"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("q8_0"), std::string::npos) << info.out;

  const CliResult run = RunCli({"run", "-m", out, "-p", "hello", "-n", "4", "--temp", "0"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
}

TEST_F(QuantizeCli, RecipeFlagOverridesAndKeepOutput) {
  const std::string out = tmp_ / "q8.gguf";
  const CliResult q = RunCli({"quantize", model_, out, "--recipe", "Q8_0", "--tensor-type", "attn_v=f16",
                              "--tensor-type", "ffn_down=q4_0", "--keep-output"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  const CliResult info = RunCli({"info", out});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("q4_0"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("f16"), std::string::npos) << info.out;
}

TEST_F(QuantizeCli, BadInputFailsCleanlyAndLeavesNoFile) {
  const std::string out = tmp_ / "out.gguf";
  ExpectCleanFailure(RunCli({"quantize", model_, out, "q4_k_z"}), "unknown quantization type 'q4_k_z'");
  ExpectCleanFailure(RunCli({"quantize", model_, out}), "give TYPE or --recipe");
  ExpectCleanFailure(RunCli({"quantize", model_, out, "q8_0", "--recipe", "q4_0"}), "not both");
  ExpectCleanFailure(RunCli({"quantize", model_, out, "q8_0", "--tensor-type", "(attn=q8_0"}), "does not compile");
  ExpectCleanFailure(RunCli({"quantize", model_, tmp_ / "nodir/out.gguf", "q8_0"}), "does not exist");
  ExpectCleanFailure(RunCli({"quantize", tmp_ / "absent.gguf", out, "q8_0"}), "absent.gguf");
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_EQ(FilesInTmp(), 1u) << "something was left beside the input";
}

}  // namespace
}  // namespace leanlm::testing
