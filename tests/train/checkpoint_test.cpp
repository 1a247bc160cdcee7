// Checkpoints: exact round trip of parameters and optimizer state, the
// commit order that survives a crash, and clear errors for records and
// tensor files that do not fit the run.
#include "train/checkpoint.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace leanlm {
namespace {

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("leanlm_ckpt_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Two tensors trained a few AdamW steps so the moments are not zero.
  struct Run {
    std::vector<float> a, ga, b, gb;
    std::unique_ptr<Optimizer> opt;
  };
  static Run MakeRun(int steps, int64_t a_size = 6, OptimizerKind kind = OptimizerKind::kAdamW) {
    Run r;
    r.a.assign(static_cast<size_t>(a_size), 0.5f);
    r.ga.assign(r.a.size(), 0.0f);
    r.b.assign(4, -1.0f);
    r.gb.assign(4, 0.0f);
    OptimizerOptions options;
    options.kind = kind;
    options.momentum = 0.9;
    r.opt = Optimizer::Create(options, {{"layer.a", r.a.data(), r.ga.data(), a_size, false, {a_size / 2, 2}},
                                        {"b", r.b.data(), r.gb.data(), 4, true, {}}})
                .value();
    for (int s = 0; s < steps; ++s) {
      for (size_t i = 0; i < r.a.size(); ++i) r.ga[i] = 0.1f * static_cast<float>(i + s) - 0.3f;
      for (size_t i = 0; i < r.b.size(); ++i) r.gb[i] = 0.2f * static_cast<float>(s) - 0.05f * static_cast<float>(i);
      r.opt->Step(0.01);
    }
    return r;
  }

  static TrainState State(int64_t step) {
    TrainState s;
    s.step = step;
    s.tokens = 1000 * step;
    s.seconds = 1.5;
    s.data = {2, 7};
    s.rng = {1, 0xffffffffffffffffULL, 3, 0x8000000000000000ULL};
    s.data_fingerprint = 0xfedcba9876543210ULL;
    return s;
  }

  void Rewrite(const std::string& from, const std::string& to) {
    std::stringstream ss;
    ss << std::ifstream(dir_ + "/checkpoint.json").rdbuf();
    std::string text = ss.str();
    const size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    std::ofstream(dir_ + "/checkpoint.json") << text;
  }

  std::string dir_;
};

TEST_F(CheckpointTest, RoundTripRestoresEverythingExactly) {
  Run saved = MakeRun(3);
  EXPECT_FALSE(CheckpointExists(dir_));
  ASSERT_TRUE(SaveCheckpoint(dir_, *saved.opt, State(3)).ok());
  EXPECT_TRUE(CheckpointExists(dir_));
  Run fresh = MakeRun(0);
  auto state = LoadCheckpoint(dir_, *fresh.opt);
  ASSERT_TRUE(state.ok()) << state.status().message();
  EXPECT_EQ(state->step, 3);
  EXPECT_EQ(state->tokens, 3000);
  EXPECT_EQ(state->seconds, 1.5);
  EXPECT_EQ(state->data.epoch, 2);
  EXPECT_EQ(state->data.index, 7);
  EXPECT_EQ(state->rng, State(3).rng);
  EXPECT_EQ(state->data_fingerprint, 0xfedcba9876543210ULL);
  EXPECT_EQ(fresh.opt->steps(), 3);
  EXPECT_EQ(fresh.a, saved.a);
  EXPECT_EQ(fresh.b, saved.b);
  const auto x = saved.opt->StateBuffers(), y = fresh.opt->StateBuffers();
  ASSERT_EQ(x.size(), y.size());
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(std::memcmp(x[i].data, y[i].data, static_cast<size_t>(x[i].n) * sizeof(float)), 0) << x[i].name;
  }
  // One more step from either gives the same parameters.
  for (Run* r : {&saved, &fresh}) {
    std::fill(r->ga.begin(), r->ga.end(), 0.7f);
    std::fill(r->gb.begin(), r->gb.end(), -0.7f);
    r->opt->Step(0.01);
  }
  EXPECT_EQ(fresh.a, saved.a);
  EXPECT_EQ(fresh.b, saved.b);
}

TEST_F(CheckpointTest, ACrashBeforeTheRecordLeavesThePreviousCheckpoint) {
  Run run = MakeRun(2);
  ASSERT_TRUE(SaveCheckpoint(dir_, *run.opt, State(5)).ok());
  // As if the process died after writing the next tensor file, or while
  // writing the record's temporary file.
  std::ofstream(dir_ + "/checkpoint-00000010.safetensors") << "partial";
  std::ofstream(dir_ + "/checkpoint.json.tmp") << "{\"format\": \"leanl";
  Run fresh = MakeRun(0);
  auto state = LoadCheckpoint(dir_, *fresh.opt);
  ASSERT_TRUE(state.ok()) << state.status().message();
  EXPECT_EQ(state->step, 5);
  EXPECT_EQ(fresh.a, run.a);
  // The next save replaces the record and removes stale tensor files.
  ASSERT_TRUE(SaveCheckpoint(dir_, *run.opt, State(6)).ok());
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/checkpoint-00000005.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/checkpoint-00000010.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/checkpoint-00000006.safetensors"));
}

TEST_F(CheckpointTest, TensorsThatDoNotFitAreRefusedBeforeAnythingChanges) {
  Run run = MakeRun(2);
  ASSERT_TRUE(SaveCheckpoint(dir_, *run.opt, State(2)).ok());
  Run bigger = MakeRun(0, 8);
  const std::vector<float> before = bigger.a;
  auto r = LoadCheckpoint(dir_, *bigger.opt);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'param.layer.a' is F32 with 6 elements, expected F32 with 8"),
            std::string::npos)
      << r.status().message();
  EXPECT_EQ(bigger.a, before);
  EXPECT_EQ(bigger.b, std::vector<float>(4, -1.0f));  // b fits, but nothing was copied
  Run sgd = MakeRun(0, 6, OptimizerKind::kSgd);
  r = LoadCheckpoint(dir_, *sgd.opt);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("optimizer \"adamw\", not sgd"), std::string::npos) << r.status().message();
  // A run with fewer trainable tensors than the checkpoint.
  std::vector<float> a(6), ga(6);
  auto only_a = Optimizer::Create({}, {{"layer.a", a.data(), ga.data(), 6, false, {}}}).value();
  r = LoadCheckpoint(dir_, *only_a);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("b.exp_avg' is not trained in this run"), std::string::npos)
      << r.status().message();
}

TEST_F(CheckpointTest, BadRecordsNameTheFile) {
  Run run = MakeRun(1);
  const std::vector<std::pair<std::string, std::string>> edits = {
      {"\"step\": 4", "\"step\": -4"},
      {"\"step\": 4", "\"step\": 5"},  // disagrees with the tensor file
      {"\"version\": 1", "\"version\": 2"},
      {"leanlm-train-checkpoint\"", "other\""},
      {"\"0000000000000001\"", "\"01\""},
      {"\"0000000000000003\"", "\"000000000000000g\""},
      {"checkpoint-00000004.safetensors", "../../etc/passwd"},
      {"checkpoint-00000004.safetensors", "checkpoint-00000009.safetensors"},
      {"\"seconds\": 1.5", "\"seconds\": \"x\""},
      {"{", "{\"step\": 1, "},  // duplicate key
  };
  for (const auto& [from, to] : edits) {
    std::filesystem::remove_all(dir_);
    ASSERT_TRUE(SaveCheckpoint(dir_, *run.opt, State(4)).ok());
    Rewrite(from, to);
    Run fresh = MakeRun(0);
    auto r = LoadCheckpoint(dir_, *fresh.opt);
    ASSERT_FALSE(r.ok()) << from << " -> " << to;
    EXPECT_NE(r.status().message().find(dir_), std::string::npos) << r.status().message();
  }
  std::filesystem::remove_all(dir_);
  Run fresh = MakeRun(0);
  EXPECT_FALSE(LoadCheckpoint(dir_, *fresh.opt).ok());
}

TEST_F(CheckpointTest, FingerprintSeesEveryTokenAndLabel) {
  std::vector<Sequence> a{{{1, 2, 3}, {2, 3, -1}}, {{4}, {5}}};
  const uint64_t fa = DataFingerprint(a);
  EXPECT_EQ(fa, DataFingerprint(a));
  auto b = a;
  b[1].labels[0] = -1;
  EXPECT_NE(DataFingerprint(b), fa);
  // Same ids, other split into sequences.
  std::vector<Sequence> c{{{1, 2}, {2, 3}}, {{3, 4}, {-1, 5}}};
  EXPECT_NE(DataFingerprint(c), fa);
}

}  // namespace
}  // namespace leanlm
