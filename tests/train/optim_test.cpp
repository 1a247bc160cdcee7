// Optimizers, clipping, accumulation and schedules against PyTorch 1.13 and
// transformers' schedule formulas (tests/reference/gen_train_optim_fixture.py).
#include "train/optim.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "train/schedule.h"

namespace leanlm {
namespace {

nlohmann::json LoadFixture() {
  std::ifstream in(std::string(LEANLM_SOURCE_DIR) + "/tests/fixtures/train/optim_reference.json");
  return nlohmann::json::parse(in);
}

Result<ScheduleKind> Kind(const nlohmann::json& j) { return ParseScheduleKind(j.get<std::string>()); }

TEST(OptimTest, MatchesPyTorchStepByStep) {
  const nlohmann::json fixture = LoadFixture();
  ASSERT_EQ(fixture["cases"].size(), 4u);
  int clipped_steps = 0;
  for (const auto& c : fixture["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto& o = c["optimizer"];
    OptimizerOptions options;
    options.kind = ParseOptimizerKind(o["kind"].get<std::string>()).value();
    options.weight_decay = o["weight_decay"];
    options.beta1 = o["beta1"];
    options.beta2 = o["beta2"];
    options.eps = o["eps"];
    options.momentum = o["momentum"];
    options.nesterov = o["nesterov"];
    ScheduleOptions schedule;
    schedule.kind = Kind(c["schedule"]["kind"]).value();
    schedule.lr = c["schedule"]["lr"];
    schedule.warmup_steps = c["schedule"]["warmup"];
    schedule.total_steps = c["schedule"]["total"];
    const double max_norm = c["max_norm"];
    const int accum = c["accum"];

    std::vector<std::vector<float>> values, grads;
    std::vector<TrainParam> params;
    for (const auto& p : c["params"]) {
      values.push_back(p["init"].get<std::vector<float>>());
      grads.emplace_back(values.back().size(), 0.0f);
    }
    for (size_t i = 0; i < values.size(); ++i) {
      const auto& p = c["params"][i];
      std::vector<int64_t> ne = p["shape"].get<std::vector<int64_t>>();
      std::reverse(ne.begin(), ne.end());
      params.push_back({p["name"], values[i].data(), grads[i].data(), static_cast<int64_t>(values[i].size()),
                        p["no_weight_decay"].get<bool>(), ne});
    }
    auto optimizer = Optimizer::Create(options, params);
    ASSERT_TRUE(optimizer.ok()) << optimizer.status().message();

    for (size_t step = 0; step < c["grads"].size(); ++step) {
      ZeroGrads(params);
      for (const auto& micro : c["grads"][step]) {
        for (size_t i = 0; i < params.size(); ++i) {
          const std::vector<float> g = micro[i].get<std::vector<float>>();
          for (size_t j = 0; j < g.size(); ++j) grads[i][j] += g[j];
        }
      }
      ScaleGrads(params, 1.0f / static_cast<float>(accum));
      const double norm = max_norm > 0 ? ClipGradNorm(params, max_norm) : GlobalGradNorm(params);
      EXPECT_NEAR(norm, c["norms"][step].get<double>(), 1e-5 * (1 + norm));
      if (max_norm > 0 && norm > max_norm) ++clipped_steps;
      const double lr = LearningRate(schedule, static_cast<int64_t>(step));
      EXPECT_NEAR(lr, c["lrs"][step].get<double>(), 1e-12);
      optimizer.value()->Step(lr);
      for (size_t i = 0; i < params.size(); ++i) {
        const std::vector<float> want = c["expected"][step][i].get<std::vector<float>>();
        for (size_t j = 0; j < want.size(); ++j) {
          ASSERT_NEAR(values[i][j], want[j], 1e-6) << "step " << step << " param " << i << " element " << j;
        }
      }
    }
    EXPECT_EQ(optimizer.value()->steps(), static_cast<int64_t>(c["grads"].size()));
  }
  EXPECT_GT(clipped_steps, 3);  // the fixture exercises clipping, not only the pass-through
}

TEST(ScheduleTest, MatchesTransformersFormulas) {
  const nlohmann::json fixture = LoadFixture();
  for (const auto& s : fixture["schedules"]) {
    ScheduleOptions options;
    options.kind = Kind(s["kind"]).value();
    options.lr = 2.0;
    options.warmup_steps = s["warmup"];
    options.total_steps = s["total"];
    ASSERT_TRUE(ValidateSchedule(options).ok());
    for (size_t step = 0; step < s["factors"].size(); ++step) {
      EXPECT_NEAR(ScheduleFactor(options, static_cast<int64_t>(step)), s["factors"][step].get<double>(), 1e-15)
          << s.dump().substr(0, 60) << " step " << step;
      EXPECT_NEAR(LearningRate(options, static_cast<int64_t>(step)), 2.0 * s["factors"][step].get<double>(), 1e-15);
    }
  }
}

TEST(ScheduleTest, HandValues) {
  // Cosine, warmup 2 of 10: 0, 0.5, then 0.5 * (1 + cos(pi * k / 8)).
  const ScheduleOptions cosine{ScheduleKind::kCosine, 1.0, 2, 10};
  EXPECT_DOUBLE_EQ(ScheduleFactor(cosine, 0), 0.0);
  EXPECT_DOUBLE_EQ(ScheduleFactor(cosine, 1), 0.5);
  EXPECT_DOUBLE_EQ(ScheduleFactor(cosine, 2), 1.0);
  EXPECT_NEAR(ScheduleFactor(cosine, 6), 0.5, 1e-15);
  EXPECT_NEAR(ScheduleFactor(cosine, 10), 0.0, 1e-15);
  const ScheduleOptions linear{ScheduleKind::kLinear, 1.0, 0, 4};
  EXPECT_DOUBLE_EQ(ScheduleFactor(linear, 1), 0.75);
  EXPECT_DOUBLE_EQ(ScheduleFactor(linear, 9), 0.0);
  EXPECT_FALSE(ParseScheduleKind("exp").ok());
  EXPECT_FALSE(ValidateSchedule({ScheduleKind::kConstant, -1.0, 0, 0}).ok());
  EXPECT_FALSE(ValidateSchedule({ScheduleKind::kConstant, NAN, 0, 0}).ok());
}

TEST(OptimTest, ClipLeavesSmallGradientsAndReportsNorm) {
  std::vector<float> v{0, 0}, g{3, 4};
  std::vector<TrainParam> params{{"w", v.data(), g.data(), 2, false, {}}};
  EXPECT_DOUBLE_EQ(ClipGradNorm(params, 10.0), 5.0);
  EXPECT_EQ(g[0], 3.0f);
  EXPECT_DOUBLE_EQ(ClipGradNorm(params, 1.0), 5.0);
  EXPECT_NEAR(g[0], 0.6f, 1e-6);
  EXPECT_NEAR(g[1], 0.8f, 1e-6);
  g[0] = NAN;
  EXPECT_TRUE(std::isnan(ClipGradNorm(params, 1.0)));
  EXPECT_TRUE(std::isnan(g[0]));
}

TEST(OptimTest, RejectsBadParamsAndOptions) {
  std::vector<float> v(4), g(4);
  OptimizerOptions options;
  EXPECT_FALSE(Optimizer::Create(options, {{"", v.data(), g.data(), 4, false, {}}}).ok());
  EXPECT_FALSE(Optimizer::Create(options, {{"a", v.data(), g.data(), 4, false, {}},
                                           {"a", v.data(), g.data(), 4, false, {}}}).ok());
  EXPECT_FALSE(Optimizer::Create(options, {{"a", nullptr, g.data(), 4, false, {}}}).ok());
  EXPECT_FALSE(Optimizer::Create(options, {{"a", v.data(), g.data(), 4, false, {3}}}).ok());
  EXPECT_TRUE(Optimizer::Create(options, {{"a", v.data(), g.data(), 4, false, {2, 2}}}).ok());
  options.beta1 = 1.0;
  EXPECT_FALSE(Optimizer::Create(options, {{"a", v.data(), g.data(), 4, false, {}}}).ok());
  options = OptimizerOptions{};
  options.kind = OptimizerKind::kSgd;
  options.nesterov = true;
  EXPECT_FALSE(Optimizer::Create(options, {{"a", v.data(), g.data(), 4, false, {}}}).ok());
  EXPECT_FALSE(ParseOptimizerKind("adam").ok());
}

TEST(OptimTest, StateBuffersNameEveryMoment) {
  std::vector<float> v(3), g(3);
  OptimizerOptions options;
  auto adamw = Optimizer::Create(options, {{"w", v.data(), g.data(), 3, false, {}}});
  ASSERT_TRUE(adamw.ok());
  const auto state = adamw.value()->StateBuffers();
  ASSERT_EQ(state.size(), 2u);
  EXPECT_EQ(state[0].name, "w.exp_avg");
  EXPECT_EQ(state[1].name, "w.exp_avg_sq");
  options.kind = OptimizerKind::kSgd;
  EXPECT_TRUE(Optimizer::Create(options, {{"w", v.data(), g.data(), 3, false, {}}}).value()->StateBuffers().empty());
  options.momentum = 0.5;
  EXPECT_EQ(Optimizer::Create(options, {{"w", v.data(), g.data(), 3, false, {}}}).value()->StateBuffers()[0].name,
            "w.momentum_buffer");
}

}  // namespace
}  // namespace leanlm
