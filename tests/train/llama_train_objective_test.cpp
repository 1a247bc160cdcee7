// LlamaObjective pads sequences of different lengths into one batch: the
// loss and the gradient equal the label-weighted combination of each
// sequence alone (padding at the end changes nothing under causal attention).
#include <gtest/gtest.h>

#include <cmath>

#include "train/llama_train_fixture.h"
#include "train/llama_train_objective.h"
#include "train/peft_methods.h"

namespace leanlm {
namespace {

TEST(LlamaObjective, PaddedBatchEqualsSequencesAlone) {
  const auto base = LoadGradBase("base");
  auto weights = BindWeights(base->config, base->tensors, "grad/base");
  ASSERT_TRUE(weights.ok());
  ThreadPool pool(2);
  MethodOptions o;
  o.method = TrainMethod::kLora;
  o.targets = {"q", "v", "down"};
  auto built = BuildTrainableModel(base->config, *weights, o, pool);
  ASSERT_TRUE(built.ok());
  TrainableModel& m = **built;
  for (auto& t : m.tensors) {  // B != 0, so that every LoRA gradient is non-zero
    for (size_t i = 0; i < t->value.size(); ++i) t->value[i] += 0.05f * std::sin(static_cast<float>(i));
  }
  Sequence a, b;
  a.tokens.assign(base->tokens.begin(), base->tokens.begin() + 8);
  a.labels.assign(base->labels.begin(), base->labels.begin() + 8);
  b.tokens.assign(base->tokens.begin() + 8, base->tokens.begin() + 13);
  b.labels.assign(base->labels.begin() + 8, base->labels.begin() + 13);
  const double na = static_cast<double>(a.loss_tokens()), nb = static_cast<double>(b.loss_tokens());
  ASSERT_GT(na, 0);
  ASSERT_GT(nb, 0);

  LlamaObjective objective(m, pool);
  auto run = [&](std::vector<const Sequence*> seqs, std::vector<std::vector<float>>& grads) {
    m.ZeroGrads();
    Result<float> loss = objective.ForwardBackward(MakeBatch(std::move(seqs)));
    EXPECT_TRUE(loss.ok()) << loss.status().message();
    grads.clear();
    for (const auto& t : m.tensors) grads.push_back(t->grad);
    return loss.ok() ? *loss : NAN;
  };
  std::vector<std::vector<float>> ga, gb, gab;
  const float la = run({&a}, ga), lb = run({&b}, gb), lab = run({&a, &b}, gab);
  EXPECT_NEAR(lab, (la * na + lb * nb) / (na + nb), 1e-5);
  for (size_t t = 0; t < gab.size(); ++t) {
    double scale = 0, err = 0;
    for (size_t i = 0; i < gab[t].size(); ++i) {
      const double want = (ga[t][i] * na + gb[t][i] * nb) / (na + nb);
      scale = std::max(scale, std::fabs(want));
      err = std::max(err, std::fabs(gab[t][i] - want));
    }
    EXPECT_GT(scale, 0) << m.tensors[t]->name;
    EXPECT_LE(err, 1e-5 * scale) << m.tensors[t]->name;
  }
  auto eval = objective.Evaluate(MakeBatch({&b, &a}));
  ASSERT_TRUE(eval.ok());
  EXPECT_NEAR(*eval, lab, 1e-5);

  Sequence bad = a;
  bad.labels.pop_back();
  EXPECT_FALSE(objective.ForwardBackward(MakeBatch({&bad})).ok());
  EXPECT_FALSE(objective.Evaluate(MakeBatch({})).ok());
}

}  // namespace
}  // namespace leanlm
