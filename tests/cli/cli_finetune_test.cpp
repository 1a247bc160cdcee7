// leanlm finetune end to end on stories260K (skips without ../shared/data):
// LoRA writes a PEFT adapter that perplexity loads (also exported as a GGUF
// LoRA by convert --base) and lowers the validation loss; full fine-tuning writes a GGUF; `kill -9` in the middle
// of a run, then --resume, ends with the bytes an uninterrupted run writes;
// bad input fails with a message.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "support/cli_runner.h"

namespace leanlm::testing {
namespace {

class FinetuneCli : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string data = SharedData();
    if (data.empty()) GTEST_SKIP() << "../shared/data is absent: skipping leanlm finetune on stories260K";
    model_ = data + "/stories260K/stories260K.gguf";
    // 24 KB of WikiText-2: out of domain for the TinyStories model.
    text_ = dir_ / "wiki.txt";
    std::ofstream(text_) << ReadAll(data + "/text/wikitext2_raw_test_hfrecon_crlf.raw").substr(0, 24000);
  }

  std::vector<std::string> Args(const std::string& method, const std::string& out, int steps) const {
    return {"finetune", "-m", model_, "--data", text_, "--val-split", "0.2", "--method", method, "--steps",
            std::to_string(steps), "--ctx", "32", "--batch", "2", "--lr", "1e-2", "--seed", "7", "--out", out,
            "--quiet", "-t", "2"};
  }

  // "validation loss A -> B" from the summary. (No std::regex: GCC 12 with
  // ASan reports -Wmaybe-uninitialized inside <regex>.)
  static std::pair<double, double> ValidationLosses(const std::string& out) {
    const size_t at = out.find("validation loss ");
    double before = 0, after = 0;
    const bool found = at != std::string::npos &&
                       std::sscanf(out.c_str() + at, "validation loss %lf -> %lf", &before, &after) == 2;
    EXPECT_TRUE(found) << out;
    return {before, after};
  }

  TempDir dir_;
  std::string model_, text_;
};

TEST_F(FinetuneCli, LoraWritesAPeftAdapterThatLowersTheValidationLoss) {
  const std::string out = dir_ / "lora";
  const CliResult r = RunCli(Args("lora", out, 20));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto [before, after] = ValidationLosses(r.out);
  EXPECT_LT(after, before);
  EXPECT_NE(r.out.find("trainable"), std::string::npos) << r.out;
  for (const char* file : {"adapter/adapter_config.json", "adapter/adapter_model.safetensors", "loss.csv",
                           "loss.svg", "checkpoint.json"}) {
    EXPECT_TRUE(std::filesystem::exists(out + "/" + file)) << file;
  }
  EXPECT_NE(ReadAll(out + "/loss.svg").find("<svg"), std::string::npos);
  const CliResult ppl = RunCli({"perplexity", "-m", model_, "--adapter", out + "/adapter", "-f", text_, "-c", "64"});
  EXPECT_EQ(ppl.exit_code, 0) << ppl.err;

  // Exported as llama.cpp's GGUF LoRA, the adapter scores the same.
  const CliResult conv = RunCli({"convert", out + "/adapter", out + "/lora.gguf", "--base", model_});
  ASSERT_EQ(conv.exit_code, 0) << conv.err;
  const CliResult ppl_gguf = RunCli({"perplexity", "-m", model_, "--adapter", out + "/lora.gguf", "-f", text_, "-c",
                                     "64"});
  EXPECT_EQ(ppl_gguf.exit_code, 0) << ppl_gguf.err;
  EXPECT_EQ(ppl_gguf.out, ppl.out);
  const CliResult base = RunCli({"perplexity", "-m", model_, "-f", text_, "-c", "64"});
  EXPECT_NE(base.out, ppl.out);
}

TEST_F(FinetuneCli, FullWritesAModelThatRuns) {
  const std::string out = dir_ / "full";
  const CliResult r = RunCli(Args("full", out, 10));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto [before, after] = ValidationLosses(r.out);
  EXPECT_LT(after, before);
  const CliResult run = RunCli({"run", "-m", out + "/model.gguf", "-p", "The", "-n", "8", "--temp", "0"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
}

// Spawns leanlm with args; returns its pid.
pid_t Spawn(const std::vector<std::string>& args) {
  std::vector<std::string> all = {LEANLM_CLI_PATH};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, LEANLM_CLI_PATH, &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

TEST_F(FinetuneCli, KillDashNineThenResumeEndsWithTheUninterruptedWeights) {
  const int kSteps = 300;
  const std::string straight = dir_ / "straight", killed = dir_ / "killed";
  auto args = [&](const std::string& out) {
    auto a = Args("lora", out, kSteps);
    a.insert(a.end(), {"--save-every", "5", "--eval-batches", "1"});
    return a;
  };
  ASSERT_EQ(RunCli(args(straight)).exit_code, 0);

  // Kill the second run as soon as its first checkpoint is committed.
  const pid_t pid = Spawn(args(killed));
  ASSERT_GT(pid, 0);
  int status = 0;
  bool exited = false;
  while (!std::filesystem::exists(killed + "/checkpoint.json")) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_FALSE(exited) << "the run ended before its first checkpoint";
  ::kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed: make it longer";
  EXPECT_FALSE(std::filesystem::exists(killed + "/adapter/adapter_model.safetensors") &&
               ReadAll(killed + "/adapter/adapter_model.safetensors") ==
                   ReadAll(straight + "/adapter/adapter_model.safetensors"))
      << "the killed run had already finished";

  auto resume = args(killed);
  resume.push_back("--resume");
  const CliResult r = RunCli(resume);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadAll(killed + "/adapter/adapter_model.safetensors"),
            ReadAll(straight + "/adapter/adapter_model.safetensors"));
  EXPECT_EQ(ReadAll(killed + "/loss.csv").substr(0, 40), ReadAll(straight + "/loss.csv").substr(0, 40));
}

TEST_F(FinetuneCli, BadInputFailsWithAMessage) {
  const std::string out = dir_ / "bad";
  auto args = Args("lora", out, 2);
  args[4] = dir_ / "missing.txt";
  CliResult r = RunCli(args);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing.txt"), std::string::npos) << r.err;

  r = RunCli(Args("lorax", out, 2));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("lorax"), std::string::npos) << r.err;

  const std::string jsonl = dir_ / "bad.jsonl";
  std::ofstream(jsonl) << "{\"text\": \"fine\"}\n{\"text\": 5}\n";
  args = Args("lora", out, 2);
  args[4] = jsonl;
  args[6] = "0";
  r = RunCli(args);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.jsonl:2"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out + "/checkpoint.json"));
}

}  // namespace
}  // namespace leanlm::testing
