// Every parameter gradient of the training graph against PyTorch autograd
// (float64) on a 2-layer GQA model (tests/reference/make_grad_fixtures.py):
// full fine-tuning, LoRA, DoRA (through the norm and with PEFT's detached
// norm), bottleneck adapters, prompt tuning, prefix tuning with and without
// the reparameterization MLP; with and without layer recomputation. A second
// model covers a tied head, Q/K/V biases, a GELU gate, scaled embeddings,
// adjacent-pair RoPE and MQA.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "train/llama_train.h"
#include "train/llama_train_fixture.h"
#include "train/peft_methods.h"

namespace leanlm {
namespace {

// The graph computes in float32 what the reference computes in float64. A
// gradient element is a sum over ~10^2-10^3 float32 products along paths
// through 2 layers, softmax and norms, so its error is a few float32 ulps of
// the tensor's largest gradients (~1e-7 relative each) times that depth:
// 1e-4 of the tensor's largest |gradient| leaves ~10x margin over what we
// measure (at most 6e-6) and is far below a wrong term (>= 1e-2 of it).
constexpr double kRelTolerance = 1e-4;

struct Case {
  std::string fixture;
  MethodOptions options;
  bool recompute = false;
  int threads = 1;
};

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  return info.param.fixture + (info.param.recompute ? "_recompute" : "") + "_t" + std::to_string(info.param.threads);
}

class GradTest : public ::testing::TestWithParam<Case> {};

TEST_P(GradTest, MatchesPyTorch) {
  const Case& c = GetParam();
  const GradMethod ref = LoadGradMethod(c.fixture);
  const auto base = LoadGradBase(ref.base);
  auto weights = BindWeights(base->config, base->tensors, "grad/base");
  ASSERT_TRUE(weights.ok()) << weights.status().message();
  ThreadPool pool(c.threads);
  auto built = BuildTrainableModel(base->config, *weights, c.options, pool);
  ASSERT_TRUE(built.ok()) << built.status().message();
  TrainableModel& model = **built;

  // Start from the fixture's values; every trainable tensor has a reference gradient.
  ASSERT_EQ(model.tensors.size(), ref.grads.values.size());
  for (auto& t : model.tensors) {
    ASSERT_TRUE(ref.grads.values.count(t->name)) << "no reference gradient for " << t->name;
    if (const auto it = ref.params.values.find(t->name); it != ref.params.values.end()) {
      ASSERT_EQ(it->second.size(), t->value.size()) << t->name;
      t->value = it->second;
    }
  }

  TrainGraphOptions options;
  options.recompute = c.recompute;
  LlamaTrainGraph graph(model, options);
  const TrainBatch batch{base->tokens.data(), base->labels.data(), base->batch, base->seq};
  auto loss = graph.ForwardBackward(batch, 0, 1, pool);
  ASSERT_TRUE(loss.ok()) << loss.status().message();
  EXPECT_NEAR(loss->mean(), ref.loss, 1e-5 * ref.loss);

  for (const auto& t : model.tensors) {
    const std::vector<float>& want = ref.grads.values.at(t->name);
    ASSERT_EQ(want.size(), t->grad.size()) << t->name;
    double scale = 0, err = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      scale = std::max(scale, std::fabs(static_cast<double>(want[i])));
      err = std::max(err, std::fabs(static_cast<double>(t->grad[i]) - want[i]));
    }
    EXPECT_LE(err, kRelTolerance * scale) << t->name << ": max |grad| " << scale;
  }

  // Evaluate gives the same loss without touching the gradients.
  const std::vector<float> before = model.tensors.front()->grad;
  auto eval = graph.Evaluate(batch, pool);
  ASSERT_TRUE(eval.ok());
  EXPECT_NEAR(eval->mean(), ref.loss, 1e-5 * ref.loss);
  EXPECT_EQ(model.tensors.front()->grad, before);
}

MethodOptions Lora(TrainMethod method, bool detach = false) {
  MethodOptions o;
  o.method = method;
  o.r = 4;
  o.alpha = 8;
  o.targets = {"q", "k", "v", "o", "gate", "up", "down"};
  o.dora_detach_norm = detach;
  return o;
}

MethodOptions Method(TrainMethod method, int64_t n_virtual = 0, int64_t hidden = 0) {
  MethodOptions o;
  o.method = method;
  o.n_virtual = n_virtual;
  o.prefix_hidden = hidden;
  o.bottleneck = 6;
  return o;
}

INSTANTIATE_TEST_SUITE_P(
    Methods, GradTest,
    ::testing::Values(Case{"full", Method(TrainMethod::kFull)}, Case{"full", Method(TrainMethod::kFull), true, 3},
                      Case{"lora", Lora(TrainMethod::kLora)}, Case{"lora", Lora(TrainMethod::kLora), true, 2},
                      Case{"dora", Lora(TrainMethod::kDora)},
                      Case{"dora_detached", Lora(TrainMethod::kDora, true), false, 2},
                      Case{"adapter", Method(TrainMethod::kAdapter)},
                      Case{"adapter", Method(TrainMethod::kAdapter), true, 2},
                      Case{"prompt", Method(TrainMethod::kPrompt, 3)},
                      Case{"prefix", Method(TrainMethod::kPtuning2, 3)},
                      Case{"prefix_mlp", Method(TrainMethod::kPrefix, 3, 16), true, 2},
                      Case{"full_variant", Method(TrainMethod::kFull), false, 2},
                      Case{"full_variant", Method(TrainMethod::kFull), true, 1},
                      Case{"prompt_variant", Method(TrainMethod::kPrompt, 2)}),
    CaseName);

}  // namespace
}  // namespace leanlm
