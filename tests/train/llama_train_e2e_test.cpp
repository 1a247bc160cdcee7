// End to end on stories260K: the generic loop (train/trainer.h) over
// LlamaObjective fine-tunes on TinyStories and lowers the validation loss;
// the trained parameters, exported as a PEFT adapter and applied unmerged by
// the inference model (LlamaModel::SetAdapters, a separate implementation of
// the adapters' forward), give the loss the training graph computes — also
// after a round trip through PEFT's file format (peft/peft_format.h).
// Skips when ../shared/data is absent.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <memory>

#include "io/model_source.h"
#include "model/llama.h"
#include "peft/peft_format.h"
#include "tokenizer/tokenizer.h"
#include "train/llama_train_objective.h"
#include "train/peft_methods.h"
#include "train/trainer.h"

namespace leanlm {
namespace {

const std::string kData = std::string(LEANLM_SOURCE_DIR) + "/../shared/data";

// Mean next-token loss of `s` through the inference forward.
double InferenceLoss(LlamaModel& model, const Sequence& s, ThreadPool& pool) {
  const ModelConfig& c = model.config();
  const auto n = static_cast<int64_t>(s.tokens.size());
  KvCache cache(c, n + model.n_virtual());
  std::vector<float> logits(static_cast<size_t>(n * c.n_vocab));
  EXPECT_TRUE(model.Forward(s.tokens.data(), n, 0, cache, logits.data(), true, pool).ok());
  double sum = 0;
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (s.labels[static_cast<size_t>(i)] < 0) continue;
    const float* row = logits.data() + i * c.n_vocab;
    double max = row[0], z = 0;
    for (int64_t v = 1; v < c.n_vocab; ++v) max = std::max(max, double{row[v]});
    for (int64_t v = 0; v < c.n_vocab; ++v) z += std::exp(row[v] - max);
    sum += max + std::log(z) - row[s.labels[static_cast<size_t>(i)]];
    ++count;
  }
  return sum / static_cast<double>(count);
}

class E2e : public ::testing::TestWithParam<TrainMethod> {};

TEST_P(E2e, TrainLowersValidationLossAndAdapterReloads) {
  const std::string gguf = kData + "/stories260K/stories260K.gguf";
  const std::string text = kData + "/text/tinystories_valid_first1000.txt";
  if (!std::filesystem::exists(gguf) || !std::filesystem::exists(text)) {
    GTEST_SKIP() << "needs " << gguf << " and " << text;
  }
  auto src = LoadModelSource(gguf);
  ASSERT_TRUE(src.ok()) << src.status().message();
  ASSERT_TRUE(src->vocab.has_value());
  auto tok = Tokenizer::Create(*src->vocab);
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  DatasetOptions data_options;
  data_options.train_path = text;
  data_options.data.ctx = 64;
  data_options.val_split = 0.02;
  data_options.seed = 3;
  auto data = LoadDataset(**tok, data_options);
  ASSERT_TRUE(data.ok()) << data.status().message();
  data->val.resize(std::min<size_t>(data->val.size(), 16));

  auto weights = BindWeights(src->config, src->tensors, gguf);
  ASSERT_TRUE(weights.ok());
  ThreadPool pool(2);
  MethodOptions o;
  o.method = GetParam();
  o.seed = 11;
  o.r = 4;
  o.n_virtual = 4;
  o.targets = {"q", "k", "v", "o", "gate", "up", "down"};
  auto built = BuildTrainableModel(src->config, *weights, o, pool);
  ASSERT_TRUE(built.ok()) << built.status().message();
  LlamaObjective objective(**built, pool);

  TrainerOptions t;
  t.steps = 12;
  t.batch_size = 4;
  // The base was pretrained on TinyStories: small LoRA steps (s = alpha / r = 4).
  t.schedule.lr = o.method == TrainMethod::kLora || o.method == TrainMethod::kDora ? 1e-3 : 1e-2;
  t.show_progress = false;
  t.seed = 5;
  auto result = Train(objective, *data, t);
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_LT(result->last_val_loss, result->first_val_loss) << DescribeTrainable(**built);

  auto adapter = ExportAdapter(**built, o, pool);
  ASSERT_TRUE(adapter.ok()) << adapter.status().message();
  const std::string dir = ::testing::TempDir() + "/leanlm_e2e_" + TrainMethodName(o.method);
  ASSERT_TRUE(SavePeftAdapter(*adapter, src->config, dir).ok());
  auto reloaded = LoadPeftAdapter(dir, src->config);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status().message();
  std::filesystem::remove_all(dir);
  for (Adapter* a : {&*adapter, &*reloaded}) {
    LlamaModel model(src->config, *weights);
    ASSERT_TRUE(model.SetAdapters({std::make_shared<const Adapter>(*a)}).ok());
    for (size_t i = 0; i < 3 && i < data->val.size(); ++i) {
      auto graph_loss = objective.Evaluate(MakeBatch({&data->val[i]}));
      ASSERT_TRUE(graph_loss.ok());
      EXPECT_NEAR(InferenceLoss(model, data->val[i], pool), *graph_loss, 1e-4 * *graph_loss)
          << "sequence " << i << (a == &*adapter ? "" : ", reloaded");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, E2e,
                         ::testing::Values(TrainMethod::kLora, TrainMethod::kDora, TrainMethod::kPrompt,
                                           TrainMethod::kPrefix, TrainMethod::kPtuning2),
                         [](const ::testing::TestParamInfo<TrainMethod>& info) {
                           return std::string(TrainMethodName(info.param));
                         });

}  // namespace
}  // namespace leanlm
