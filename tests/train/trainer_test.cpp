// The generic training loop on a toy objective: exact gradient descent with
// accumulation, bit-identical resume after an interruption, NaN handling,
// validation and the files it writes.
#include "train/trainer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/safetensors.h"
#include "train/checkpoint.h"
#include "train/loss_log.h"
#include "train/trainer_toy_objective.h"

namespace leanlm {
namespace {

using testing::ToyObjective;
using testing::ToySequences;

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("leanlm_trainer_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Dir(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

std::string ReadAll(const std::string& path) {
  std::stringstream ss;
  ss << std::ifstream(path).rdbuf();
  return ss.str();
}

TEST_F(TrainerTest, AccumulatedMicroBatchesEqualFullBatchGradientDescent) {
  // 4 sequences with 5 labelled positions each; batch 2 x accumulation 2 is
  // the whole set every step, so the run is plain gradient descent, which
  // the test computes itself in double.
  Dataset data;
  data.train = ToySequences(4, 6, 11);
  ToyObjective objective(16);
  const std::vector<float> w0 = objective.w_;
  TrainerOptions options;
  options.steps = 60;
  options.batch_size = 2;
  options.grad_accum = 2;
  options.optimizer.kind = OptimizerKind::kSgd;
  options.schedule = {ScheduleKind::kConstant, 0.1, 0, 0};
  options.max_grad_norm = 0;
  options.show_progress = false;
  auto result = Train(objective, data, options);
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->steps, 60);

  std::vector<double> w(w0.begin(), w0.end());
  double b = 0.25;
  double first_loss = 0, loss = 0;
  for (int step = 0; step < 60; ++step) {
    std::vector<double> gw(w.size(), 0.0);
    double gb = 0;
    loss = 0;
    int count = 0;
    for (const Sequence& s : data.train) {
      for (size_t i = 0; i < s.tokens.size(); ++i) {
        if (s.labels[i] < 0) continue;
        const int64_t t = s.tokens[i], a = t % 16, c = (7 * t + 3) % 16;
        const double err = w[a] + 0.5 * w[c] + b - 0.01 * s.labels[i];
        loss += err * err;
        gw[a] += 2 * err;
        gw[c] += err;
        gb += 2 * err;
        ++count;
      }
    }
    loss /= count;
    if (step == 0) first_loss = loss;
    for (size_t j = 0; j < w.size(); ++j) w[j] -= 0.1 * gw[j] / count;
    b -= 0.1 * gb / count;
  }
  for (size_t j = 0; j < w.size(); ++j) EXPECT_NEAR(objective.w_[j], w[j], 1e-5) << j;
  EXPECT_NEAR(objective.b_, b, 1e-5);
  EXPECT_NEAR(result->last_train_loss, loss, 1e-5);
  EXPECT_LT(loss, 0.5 * first_loss);
}

TrainerOptions ResumeOptions(const std::string& out) {
  TrainerOptions options;
  options.steps = 12;
  options.batch_size = 3;
  options.grad_accum = 2;
  options.optimizer.weight_decay = 0.1;
  options.schedule = {ScheduleKind::kCosine, 0.05, 3, 0};
  options.max_grad_norm = 0.5;
  options.eval_every = 4;
  options.save_every = 5;
  options.out_dir = out;
  options.seed = 1234;
  options.show_progress = false;
  return options;
}

Dataset ResumeData() {
  Dataset data;
  data.train = ToySequences(17, 8, 5);
  EXPECT_TRUE(SplitValidation(data.train, 0.2, 9, data.val).ok());
  return data;
}

TEST_F(TrainerTest, ResumeAfterInterruptionIsBitIdentical) {
  const Dataset data = ResumeData();
  // The uninterrupted run.
  ToyObjective straight(16, 1e-3);
  ASSERT_TRUE(Train(straight, data, ResumeOptions(Dir("straight"))).ok());
  // A run "killed" after step 8: its last checkpoint is step 5, steps 6-8 are lost.
  ToyObjective first(16, 1e-3);
  TrainerOptions options = ResumeOptions(Dir("resumed"));
  options.keep_going = [](int64_t step) { return step < 8; };
  auto part = Train(first, data, options);
  ASSERT_TRUE(part.ok()) << part.status().message();
  EXPECT_TRUE(part->interrupted);
  // A fresh process: new objective with the initial weights, resumed.
  ToyObjective second(16, 1e-3);
  options.keep_going = nullptr;
  options.resume = true;
  auto rest = Train(second, data, options);
  ASSERT_TRUE(rest.ok()) << rest.status().message();
  EXPECT_EQ(rest->start_step, 5);
  EXPECT_EQ(rest->steps, 12);
  EXPECT_EQ(std::memcmp(second.w_.data(), straight.w_.data(), straight.w_.size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(&second.b_, &straight.b_, sizeof(float)), 0);
  // The optimizer state agrees too (the final checkpoints' bytes), and the
  // loss curves agree except for the time column.
  auto a = OpenSafetensors(Dir("straight") + "/checkpoint-00000012.safetensors");
  auto b = OpenSafetensors(Dir("resumed") + "/checkpoint-00000012.safetensors");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->tensors().size(), 6u);  // w, b and two moments each
  for (const SafetensorsTensor& t : a->tensors()) {
    const SafetensorsTensor* u = b->Find(t.name);
    ASSERT_NE(u, nullptr) << t.name;
    EXPECT_EQ(std::memcmp(t.data, u->data, t.bytes), 0) << t.name;
  }
  auto la = LossLog::FromCsv(ReadAll(Dir("straight") + "/loss.csv"), "a");
  auto lb = LossLog::FromCsv(ReadAll(Dir("resumed") + "/loss.csv"), "b");
  ASSERT_TRUE(la.ok() && lb.ok());
  ASSERT_EQ(la->records().size(), 13u);  // step 0 (validation) and 12 steps
  ASSERT_EQ(lb->records().size(), 13u);
  for (size_t i = 0; i < la->records().size(); ++i) {
    const LossRecord &x = la->records()[i], &y = lb->records()[i];
    EXPECT_EQ(x.step, y.step);
    EXPECT_EQ(std::isnan(x.train_loss) ? -1 : x.train_loss, std::isnan(y.train_loss) ? -1 : y.train_loss);
    EXPECT_EQ(std::isnan(x.val_loss) ? -1 : x.val_loss, std::isnan(y.val_loss) ? -1 : y.val_loss);
    EXPECT_EQ(x.tokens, y.tokens);
  }
  // Validation at 0, 4, 8 and 12; the SVG exists; only the last tensor file is kept.
  for (int64_t s : {0, 4, 8, 12}) EXPECT_FALSE(std::isnan(la->records()[static_cast<size_t>(s)].val_loss)) << s;
  EXPECT_TRUE(std::isnan(la->records()[3].val_loss));
  EXPECT_TRUE(std::filesystem::exists(Dir("resumed") + "/loss.svg"));
  EXPECT_FALSE(std::filesystem::exists(Dir("resumed") + "/checkpoint-00000010.safetensors"));
}

TEST_F(TrainerTest, LearnsAndReportsValidationLoss) {
  const Dataset data = ResumeData();
  ToyObjective objective(16);
  TrainerOptions options = ResumeOptions("");
  options.steps = 0;
  options.epochs = 30;
  options.save_every = 0;
  options.schedule = {ScheduleKind::kLinear, 0.05, 5, 0};
  auto result = Train(objective, data, options);
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->total_steps, PlannedSteps(options, static_cast<int64_t>(data.train.size())));
  EXPECT_EQ(result->total_steps, (30 * 14 + 5) / 6);
  EXPECT_LT(result->last_val_loss, 0.5 * result->first_val_loss);
}

TEST_F(TrainerTest, NanLossStopsNamingTheStepAndKeepsTheCheckpoint) {
  const Dataset data = ResumeData();
  ToyObjective objective(16);
  objective.nan_at_call_ = 2 * 7 + 1;  // the first micro-batch of step 8
  auto result = Train(objective, data, ResumeOptions(Dir("nan")));
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("step 8: the loss is nan"), std::string::npos) << result.status().message();
  EXPECT_NE(result.status().message().find("checkpoint of step 5"), std::string::npos) << result.status().message();
  std::stringstream record;
  record << std::ifstream(Dir("nan") + "/checkpoint.json").rdbuf();
  EXPECT_NE(record.str().find("\"step\": 5"), std::string::npos);
}

TEST_F(TrainerTest, RefusesToOverwriteACheckpointAndOtherData) {
  const Dataset data = ResumeData();
  TrainerOptions options = ResumeOptions(Dir("out"));
  options.steps = 5;
  ToyObjective a(16);
  ASSERT_TRUE(Train(a, data, options).ok());
  ToyObjective b(16);
  auto again = Train(b, data, options);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("already holds a training checkpoint"), std::string::npos);
  // Resuming with other training data is refused.
  Dataset other = ResumeData();
  other.train.pop_back();
  options.resume = true;
  auto mismatch = Train(b, other, options);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("other data"), std::string::npos);
  // Resuming a finished run with more steps continues it.
  options.steps = 7;
  auto more = Train(b, data, options);
  ASSERT_TRUE(more.ok()) << more.status().message();
  EXPECT_EQ(more->start_step, 5);
  // Bad options.
  TrainerOptions bad = options;
  bad.batch_size = 0;
  EXPECT_FALSE(Train(b, data, bad).ok());
  bad = options;
  bad.out_dir = "";
  EXPECT_FALSE(Train(b, data, bad).ok());
  EXPECT_FALSE(Train(b, Dataset{}, ResumeOptions("")).ok());
}

}  // namespace
}  // namespace leanlm
