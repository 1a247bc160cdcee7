// Bad input given to the leanlm program: a clear message naming the problem,
// a non-zero exit, never a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/cli_runner.h"

namespace leanlm::testing {
namespace {

void ExpectCleanFailure(const CliResult& r, const std::string& must_mention) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_LT(r.exit_code, 128) << "killed by a signal: " << r.err;
  EXPECT_NE(r.err.find(must_mention), std::string::npos) << "stderr: " << r.err;
}

TEST(CliErrors, UnknownCommandAndOption) {
  ExpectCleanFailure(RunCli({"frobnicate"}), "unknown command");
  ExpectCleanFailure(RunCli({"run", "--bogus"}), "unknown option '--bogus'");
  ExpectCleanFailure(RunCli({"run", "-m", "x.gguf", "-n", "abc"}), "-n expects an integer");
  ExpectCleanFailure(RunCli({"run", "-m", "x.gguf", "--top-p", "2"}), "--top-p must be in");
  ExpectCleanFailure(RunCli({"run"}), "missing required option --model");
}

TEST(CliErrors, MissingModelFile) {
  ExpectCleanFailure(RunCli({"run", "-m", "/nonexistent/model.gguf"}), "/nonexistent/model.gguf");
}

TEST(CliErrors, TruncatedAndGarbageModelFiles) {
  TempDir tmp;
  const std::string garbage = tmp / "garbage.gguf";
  std::ofstream(garbage) << "this is not a model file at all";
  ExpectCleanFailure(RunCli({"run", "-m", garbage}), "garbage.gguf");
  ExpectCleanFailure(RunCli({"info", garbage}), "garbage.gguf");

  const std::string data = SharedData();
  if (data.empty()) GTEST_SKIP() << "../shared/data is absent: skipping the truncated-file case";
  const std::string truncated = tmp / "truncated.gguf";
  std::filesystem::copy_file(data + "/stories260K/stories260K.gguf", truncated);
  std::filesystem::resize_file(truncated, std::filesystem::file_size(truncated) / 2);
  ExpectCleanFailure(RunCli({"run", "-m", truncated, "-n", "4"}), "truncated.gguf");
}

TEST(CliErrors, Llama2cWithoutTokenizer) {
  const std::string data = SharedData();
  if (data.empty()) GTEST_SKIP() << "../shared/data is absent";
  ExpectCleanFailure(RunCli({"run", "-m", data + "/stories260K/stories260K.bin", "-n", "4"}), "--tokenizer");
}

TEST(CliErrors, InitUnknownPreset) {
  TempDir tmp;
  ExpectCleanFailure(RunCli({"init", "--preset", "nope", "-o", tmp / "x.gguf"}), "unknown preset 'nope'");
  EXPECT_FALSE(std::filesystem::exists(tmp / "x.gguf"));
}

TEST(Cli, InitThenRunInfoAndPerplexity) {
  TempDir tmp;
  const std::string model = tmp / "tiny.gguf";
  CliResult r = RunCli({"init", "--preset", "tiny", "-o", model, "--seed", "7"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunCli({"run", "-m", model, "-p", "Hello", "-n", "8", "--seed", "3", "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("Hello", 0), 0u) << r.out;
  EXPECT_NE(r.err.find("generation: 8 tokens"), std::string::npos) << r.err;
  r = RunCli({"info", model});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("blk.1.ffn_down.weight"), std::string::npos);
  r = RunCli({"perplexity", "-m", model, "-p", "a short document", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"ppl\""), std::string::npos);
}

TEST(Cli, ChatTakesTurnsWithATemplate) {
  TempDir tmp;
  const std::string model = tmp / "tiny.gguf";
  ASSERT_EQ(RunCli({"init", "--preset", "tiny", "-o", model}).exit_code, 0);
  const std::string input = tmp / "turns.txt";
  std::ofstream(input) << "Hello there\nAnd a second question\n";
  CliResult r = RunCli({"chat", "-m", model, "--template", "chatml", "-n", "6", "--seed", "1"}, input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("chat template: chatml"), std::string::npos) << r.err;
  r = RunCli({"chat", "-m", model, "--template", "no-such-template"}, input);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("unknown chat template"), std::string::npos) << r.err;
  // A model without a template falls back to plain lines, with a warning.
  r = RunCli({"chat", "-m", model, "-n", "4", "--seed", "1"}, input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace leanlm::testing
