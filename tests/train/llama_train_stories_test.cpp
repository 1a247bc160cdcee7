// The training graph on a real pretrained model, stories260K (GQA, n_ff
// 172): its loss on the golden sentence is the NLL llama2.c published
// (reference.json) for every method at initialisation (the PEFT modules
// start as the identity: LoRA's B = 0, adapters' up = 0), and a few steps of
// each method lower it. QLoRA can hold the whole base in NF4.
// Skips when ../shared/data is absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/model_source.h"
#include "quant/registry.h"
#include "train/llama_train.h"
#include "train/optim.h"
#include "train/peft_methods.h"

namespace leanlm {
namespace {

const std::string kDir = std::string(LEANLM_SOURCE_DIR) + "/../shared/data/stories260K";

class Stories : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string gguf = kDir + "/stories260K.gguf";
    if (!std::filesystem::exists(gguf) || !std::filesystem::exists(kDir + "/reference.json")) {
      GTEST_SKIP() << "../shared/data/stories260K is absent: skipping the stories260K training test";
    }
    auto src = LoadModelSource(gguf);
    ASSERT_TRUE(src.ok()) << src.status().message();
    source_ = std::move(src).value();
    auto weights = BindWeights(source_.config, source_.tensors, gguf);
    ASSERT_TRUE(weights.ok()) << weights.status().message();
    weights_ = std::move(weights).value();
    std::ifstream js(kDir + "/reference.json");
    const nlohmann::json ref = nlohmann::json::parse(js);
    const auto& golden = ref.at("perplexity_golden_fp32");
    ids_ = ref.at("encode_vectors_tok512").at(golden.at("sentence").get<std::string>()).get<std::vector<int32_t>>();
    nll_ = golden.at("nll");
    labels_.assign(ids_.begin() + 1, ids_.end());
    labels_.push_back(-1);
  }

  ModelSource source_;
  ModelWeights weights_;
  std::vector<int32_t> ids_, labels_;
  double nll_ = 0;
  ThreadPool pool_{2};
};

class StoriesTrain : public Stories, public ::testing::WithParamInterface<TrainMethod> {};

TEST_P(StoriesTrain, GoldenNllThenLearns) {
  MethodOptions o;
  o.method = GetParam();
  o.targets = {"q", "k", "v", "o", "gate", "up", "down"};
  auto built = BuildTrainableModel(source_.config, weights_, o, pool_);
  ASSERT_TRUE(built.ok()) << built.status().message();
  TrainableModel& m = **built;
  LlamaTrainGraph graph(m);
  const TrainBatch batch{ids_.data(), labels_.data(), 1, static_cast<int64_t>(ids_.size())};
  auto first = graph.ForwardBackward(batch, 0, 0, pool_);
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_EQ(first->count, static_cast<int64_t>(ids_.size()) - 1);
  if (o.method != TrainMethod::kQlora) {  // QLoRA's NF4 base is another model
    EXPECT_NEAR(first->loss_sum, nll_, 1e-4 * nll_);
  }

  OptimizerOptions adamw;
  auto optimizer = Optimizer::Create(adamw, m.Params());
  ASSERT_TRUE(optimizer.ok());
  (*optimizer)->Step(1e-2);
  for (int step = 0; step < 5; ++step) {
    m.ZeroGrads();
    ASSERT_TRUE(graph.ForwardBackward(batch, 0, 0, pool_).ok());
    (*optimizer)->Step(1e-2);
  }
  auto last = graph.Evaluate(batch, pool_);
  ASSERT_TRUE(last.ok());
  EXPECT_LT(last->loss_sum, 0.9 * first->loss_sum) << DescribeTrainable(m);
}

// QLoRA with its embeddings option holds the whole base in NF4: ffn_down's
// rows of 172 are padded to 192, the rest fit blocks of 64. The base then
// takes < 1/6 of its F32 bytes, and the loss stays near the F32 model's.
TEST_F(Stories, QloraBaseIsSmall) {
  MethodOptions o;
  o.method = TrainMethod::kQlora;
  o.qlora_embeddings = true;
  auto built = BuildTrainableModel(source_.config, weights_, o, pool_);
  ASSERT_TRUE(built.ok()) << built.status().message();
  const TrainableModel& m = **built;
  int64_t bytes = m.weights.token_embd.bytes(), f32 = m.n_total() - m.n_trainable();
  EXPECT_EQ(m.weights.token_embd.type, kNF4);
  EXPECT_EQ(m.weights.output.type, kNF4);
  if (m.weights.output.data != m.weights.token_embd.data) bytes += static_cast<int64_t>(m.weights.output.bytes());
  for (const LayerWeights& L : m.weights.layers) {
    for (const TensorView* v : {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down}) {
      ASSERT_EQ(v->type, kNF4);
      bytes += static_cast<int64_t>(v->bytes());
    }
    EXPECT_EQ(L.ffn_down.cols(), 192);
    bytes += static_cast<int64_t>(L.attn_norm.bytes() + L.ffn_norm.bytes());
  }
  bytes += static_cast<int64_t>(m.weights.output_norm.bytes());
  EXPECT_LE(bytes * 6, f32 * 4);
  LlamaTrainGraph graph(**built);
  const TrainBatch batch{ids_.data(), labels_.data(), 1, static_cast<int64_t>(ids_.size())};
  auto loss = graph.ForwardBackward(batch, 0, 0, pool_);
  ASSERT_TRUE(loss.ok());
  EXPECT_NEAR(loss->loss_sum, nll_, 0.1 * nll_);
}

INSTANTIATE_TEST_SUITE_P(Methods, StoriesTrain,
                         ::testing::Values(TrainMethod::kFull, TrainMethod::kLora, TrainMethod::kDora,
                                           TrainMethod::kQlora, TrainMethod::kAdapter),
                         [](const ::testing::TestParamInfo<TrainMethod>& info) {
                           return std::string(TrainMethodName(info.param));
                         });

}  // namespace
}  // namespace leanlm
