// Each fine-tuning method learns: a few AdamW steps (train/optim.h) on one repeated batch
// lower the loss of a small random model (n_embd 64, so QLoRA's NF4 blocks of
// 64 apply to every linear). Also: QLoRA's base really is NF4 and its LoRA
// gradients equal LoRA's over the dequantized base; parameter counts;
// option errors; export to the PEFT adapter types.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>

#include "base/dtype.h"
#include "quant/registry.h"
#include "train/llama_train.h"
#include "train/optim.h"
#include "train/peft_methods.h"

namespace leanlm {
namespace {

struct RandomModel {
  ModelConfig config;
  std::map<std::string, std::vector<float>> data;
  TensorMap tensors;
  std::vector<int32_t> tokens, labels;  // (2, 16)
};

std::unique_ptr<RandomModel> MakeRandomModel(int64_t n_ff = 128) {
  auto m = std::make_unique<RandomModel>();
  ModelConfig& c = m->config;
  c.n_vocab = 48;
  c.n_embd = 64;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.head_dim = 16;
  c.n_ff = n_ff;
  c.n_ctx_train = 64;
  c.rope_neox = true;
  uint64_t state = 12345;
  auto normal = [&state]() {  // sum of uniforms: close enough to N(0, 1) for a test model
    double s = 0;
    for (int i = 0; i < 12; ++i) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      s += static_cast<double>(state >> 11) * 0x1.0p-53;
    }
    return static_cast<float>(s - 6);
  };
  ModelWeights shapes;
  EXPECT_TRUE(ForEachTensor(c, shapes, [&](const WeightSpec& spec, TensorView&) {
                if (!spec.required && spec.name != "output.weight") return Status::Ok();  // an untied head
                std::vector<float>& v = m->data[spec.name];
                v.resize(static_cast<size_t>(spec.ne[0] * spec.ne[1]));
                const bool norm = spec.n_dims == 1;
                for (float& x : v) x = norm ? 1.0f : normal() / std::sqrt(static_cast<float>(spec.ne[0]));
                TensorView t;
                t.data = v.data();
                t.n_dims = spec.n_dims;
                t.ne = spec.ne;
                m->tensors[spec.name] = t;
                return Status::Ok();
              }).ok());
  for (int64_t i = 0; i < 2 * 16; ++i) {
    m->tokens.push_back(static_cast<int32_t>((i * 7 + 3) % c.n_vocab));
    m->labels.push_back(i % 16 < 4 ? -1 : static_cast<int32_t>((i * 5 + 1) % c.n_vocab));
  }
  return m;
}

class StepsTest : public ::testing::TestWithParam<TrainMethod> {};

TEST_P(StepsTest, FewAdamWStepsLowerTheLoss) {
  const auto rm = MakeRandomModel();
  auto weights = BindWeights(rm->config, rm->tensors, "random");
  ASSERT_TRUE(weights.ok()) << weights.status().message();
  MethodOptions o;
  o.method = GetParam();
  o.seed = 7;
  o.n_virtual = 4;
  o.targets = {"q", "v", "up"};
  o.dropout = o.method == TrainMethod::kLora ? 0.1f : 0.0f;
  ThreadPool pool(2);
  auto built = BuildTrainableModel(rm->config, *weights, o, pool);
  ASSERT_TRUE(built.ok()) << built.status().message();
  TrainableModel& m = **built;
  EXPECT_GT(m.n_trainable(), 0);
  EXPECT_LE(m.n_trainable(), m.n_total());
  TrainGraphOptions go;
  go.recompute = o.method == TrainMethod::kQlora;
  LlamaTrainGraph graph(m, go);
  const TrainBatch batch{rm->tokens.data(), rm->labels.data(), 2, 16};

  auto first = graph.Evaluate(batch, pool);
  ASSERT_TRUE(first.ok());
  OptimizerOptions adamw;
  adamw.weight_decay = 0.01;
  auto optimizer = Optimizer::Create(adamw, m.Params());
  ASSERT_TRUE(optimizer.ok()) << optimizer.status().message();
  for (int step = 1; step <= 12; ++step) {
    m.ZeroGrads();
    ASSERT_TRUE(graph.ForwardBackward(batch, 0, static_cast<uint64_t>(step), pool).ok());
    (*optimizer)->Step(o.method == TrainMethod::kFull ? 3e-3 : 2e-2);
  }
  auto last = graph.Evaluate(batch, pool);
  ASSERT_TRUE(last.ok());
  EXPECT_LT(last->mean(), 0.9 * first->mean()) << TrainMethodName(o.method) << ": " << first->mean() << " -> "
                                               << last->mean() << ", " << DescribeTrainable(m);
}

INSTANTIATE_TEST_SUITE_P(Methods, StepsTest,
                         ::testing::Values(TrainMethod::kFull, TrainMethod::kLora, TrainMethod::kDora,
                                           TrainMethod::kQlora, TrainMethod::kAdapter, TrainMethod::kPrompt,
                                           TrainMethod::kPrefix, TrainMethod::kPtuning2),
                         [](const ::testing::TestParamInfo<TrainMethod>& info) {
                           return std::string(TrainMethodName(info.param));
                         });

// The block linears of `w` stored as `type` (bytes kept in store), with
// rows of their logical length (dropping QLoRA's zero padding).
void StoreLinearsAs(const ModelConfig& c, ModelWeights& w, DType type, std::vector<std::vector<uint8_t>>& store) {
  for (LayerWeights& L : w.layers) {
    int slot = 0;
    for (TensorView* v : {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down}) {
      const int64_t in = LinearIn(c, static_cast<LinearSlot>(slot++)), row_bytes = RowBytes(type, in).value();
      std::vector<uint8_t>& bytes = store.emplace_back(static_cast<size_t>(row_bytes * v->rows()));
      std::vector<float> row(static_cast<size_t>(v->cols()));
      for (int64_t r = 0; r < v->rows(); ++r) {
        GetTypeTraits(v->type).to_float(v->row(r), row.data(), v->cols());
        GetTypeTraits(type).from_float(row.data(), bytes.data() + r * row_bytes, in);
      }
      v->data = bytes.data();
      v->type = type;
      v->ne[0] = in;
    }
  }
}

// QLoRA holds the block linears in NF4 (36 bytes per 64 weights, < 1/7 of
// F32) when loaded as F32/F16, or keeps the quantized type they were loaded
// in; its LoRA gradients are LoRA's over a F32 base holding the same values.
// n_ff 96 pads ffn_down's rows to 128 in NF4.
struct QloraCase {
  DType loaded, held;
  int64_t n_ff;
};

class Qlora : public ::testing::TestWithParam<QloraCase> {};

TEST_P(Qlora, BaseStaysSmallAndGradientsMatchDequantizedBase) {
  const auto [loaded, held, n_ff] = GetParam();
  const auto rm = MakeRandomModel(n_ff);
  auto weights = BindWeights(rm->config, rm->tensors, "random");
  ASSERT_TRUE(weights.ok());
  std::vector<std::vector<uint8_t>> store;
  if (loaded != DType::kF32) StoreLinearsAs(rm->config, *weights, loaded, store);
  ThreadPool pool(2);
  MethodOptions o;
  o.method = TrainMethod::kQlora;
  o.targets = {"q", "k", "v", "o", "gate", "up", "down"};
  auto q = BuildTrainableModel(rm->config, *weights, o, pool);
  ASSERT_TRUE(q.ok());
  int64_t f32_bytes = 0, q_bytes = 0;
  ModelWeights dequant = (*q)->weights;
  for (LayerWeights& L : dequant.layers) {
    int slot = 0;
    for (TensorView* v : {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down}) {
      ASSERT_EQ(v->type, held);
      q_bytes += static_cast<int64_t>(v->bytes());
      f32_bytes += v->rows() * LinearIn(rm->config, static_cast<LinearSlot>(slot++)) * 4;
    }
    EXPECT_EQ(L.ffn_down.cols(), held == kNF4 ? (n_ff + 63) / 64 * 64 : n_ff);
  }
  if (held == kNF4) {
    EXPECT_LE(q_bytes * 6, f32_bytes);
  }
  StoreLinearsAs(rm->config, dequant, DType::kF32, store);
  o.method = TrainMethod::kLora;
  auto l = BuildTrainableModel(rm->config, dequant, o, pool);
  ASSERT_TRUE(l.ok());
  // Same random A (same seed); B non-zero so that A's gradients are too.
  for (size_t i = 0; i < (*q)->tensors.size(); ++i) {
    TrainTensor& a = *(*q)->tensors[i];
    for (size_t j = 0; j < a.value.size(); ++j) {
      if (a.name.find("lora_b") != std::string::npos) a.value[j] = 0.01f * static_cast<float>((j * 13) % 7) - 0.03f;
    }
    (*l)->tensors[i]->value = a.value;
  }
  const TrainBatch batch{rm->tokens.data(), rm->labels.data(), 2, 16};
  LlamaTrainGraph gq(**q), gl(**l);
  ASSERT_TRUE(gq.ForwardBackward(batch, 0, 0, pool).ok());
  ASSERT_TRUE(gl.ForwardBackward(batch, 0, 0, pool).ok());
  for (size_t i = 0; i < (*q)->tensors.size(); ++i) {
    const TrainTensor& a = *(*q)->tensors[i];
    const TrainTensor& b = *(*l)->tensors[i];
    double scale = 0, err = 0;
    for (size_t j = 0; j < a.grad.size(); ++j) {
      scale = std::max(scale, std::fabs(static_cast<double>(b.grad[j])));
      err = std::max(err, std::fabs(static_cast<double>(a.grad[j]) - b.grad[j]));
    }
    EXPECT_GT(scale, 0) << a.name;
    EXPECT_LE(err, 1e-4 * scale) << a.name;
  }
}

INSTANTIATE_TEST_SUITE_P(BaseTypes, Qlora,
                         ::testing::Values(QloraCase{DType::kF32, kNF4, 128}, QloraCase{DType::kF16, kNF4, 128},
                                           QloraCase{DType::kF32, kNF4, 96}, QloraCase{DType::kQ8_0, DType::kQ8_0, 96},
                                           QloraCase{DType::kQ4_0, DType::kQ4_0, 128}),
                         [](const ::testing::TestParamInfo<QloraCase>& info) {
                           return std::string(TypeName(info.param.loaded)) + "_ff" + std::to_string(info.param.n_ff);
                         });

TEST(Methods, CountsOptionErrorsAndExport) {
  const auto rm = MakeRandomModel();
  auto weights = BindWeights(rm->config, rm->tensors, "random");
  ASSERT_TRUE(weights.ok());
  ThreadPool pool(1);
  const ModelConfig& c = rm->config;
  MethodOptions o;
  o.method = TrainMethod::kLora;
  o.r = 4;
  o.targets = {"q", "v"};
  auto m = BuildTrainableModel(c, *weights, o, pool);
  ASSERT_TRUE(m.ok());
  // q: A (64 x 4) + B (4 x 64); v: A (64 x 4) + B (4 x 32); per layer.
  EXPECT_EQ((*m)->n_trainable(), c.n_layer * (64 * 4 + 4 * 64 + 64 * 4 + 4 * 32));
  int64_t base = 2 * c.n_vocab * c.n_embd + c.n_embd;
  base += c.n_layer * (2 * c.n_embd + c.n_embd * (c.q_dim() + 2 * c.kv_dim()) + c.q_dim() * c.n_embd +
                       3 * c.n_embd * c.n_ff);
  EXPECT_EQ((*m)->n_total(), base + (*m)->n_trainable());
  EXPECT_NE(DescribeTrainable(**m).find("trainable 1,792 / "), std::string::npos) << DescribeTrainable(**m);
  auto adapter = ExportAdapter(**m, o, pool);
  ASSERT_TRUE(adapter.ok());
  ASSERT_NE(adapter->lora(), nullptr);
  EXPECT_EQ(adapter->lora()->targets.size(), 4u);
  EXPECT_EQ(adapter->lora()->targets[1].weight, "blk.0.attn_v.weight");
  EXPECT_FLOAT_EQ(adapter->lora()->scale(), 16.0f / 4);

  // A regex over weight names picks the targets; rsLoRA scales by alpha / sqrt(r).
  o.target_pattern = "blk\\.1\\..*(attn_q|ffn_down)";
  o.rslora = true;
  auto re = BuildTrainableModel(c, *weights, o, pool);
  ASSERT_TRUE(re.ok()) << re.status().message();
  ASSERT_EQ((*re)->lora_modules.size(), 2u);
  EXPECT_EQ((*re)->layers[1].lora[0], (*re)->lora_modules[0].get());
  EXPECT_EQ((*re)->layers[1].lora[6], (*re)->lora_modules[1].get());
  EXPECT_FLOAT_EQ((*re)->lora_modules[0]->scale, 16.0f / 2);

  o.method = TrainMethod::kFull;
  o.full_pattern = "norm";
  auto full = BuildTrainableModel(c, *weights, o, pool);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ((*full)->n_trainable(), (2 * c.n_layer + 1) * c.n_embd);
  EXPECT_EQ((*full)->n_total(), base);
  EXPECT_FALSE(ExportAdapter(**full, o, pool).ok());

  o.method = TrainMethod::kPtuning2;
  o.n_virtual = 3;
  auto pt = BuildTrainableModel(c, *weights, o, pool);
  ASSERT_TRUE(pt.ok());
  auto prefix = ExportAdapter(**pt, o, pool);
  ASSERT_TRUE(prefix.ok() && prefix->prefix() != nullptr);
  EXPECT_EQ(prefix->prefix()->keys.size(), 2u);
  EXPECT_EQ(prefix->prefix()->keys[1].size(), static_cast<size_t>(3 * c.kv_dim()));

  for (const auto& [field, value] : std::vector<std::pair<std::string, std::string>>{
           {"targets", "qq"}, {"pattern", "("}, {"full", "nothing_matches"}, {"r", "0"}, {"virtual", "0"}}) {
    MethodOptions bad;
    bad.method = field == "full" ? TrainMethod::kFull : field == "virtual" ? TrainMethod::kPrompt : TrainMethod::kLora;
    if (field == "targets") bad.targets = {value};
    if (field == "pattern") bad.target_pattern = value;
    if (field == "full") bad.full_pattern = value;
    if (field == "r") bad.r = 0;
    if (field == "virtual") bad.n_virtual = 0;
    auto r = BuildTrainableModel(c, *weights, bad, pool);
    EXPECT_FALSE(r.ok()) << field;
  }
  EXPECT_FALSE(ParseTrainMethod("loraa").ok());
  EXPECT_EQ(ParseTrainMethod("ptuning2").value(), TrainMethod::kPtuning2);
}

// Same inputs, same seed: bit-identical gradients (resuming a run relies on
// it), dropout included; another seed draws other dropout masks.
TEST(Graph, Deterministic) {
  const auto rm = MakeRandomModel();
  auto weights = BindWeights(rm->config, rm->tensors, "random");
  ASSERT_TRUE(weights.ok());
  ThreadPool pool(2);
  MethodOptions o;
  o.dropout = 0.2f;
  auto m = BuildTrainableModel(rm->config, *weights, o, pool);
  ASSERT_TRUE(m.ok());
  for (auto& t : (*m)->tensors) {
    for (size_t i = 0; i < t->value.size(); ++i) t->value[i] += 0.01f * std::cos(static_cast<float>(i));
  }
  LlamaTrainGraph graph(**m);
  const TrainBatch batch{rm->tokens.data(), rm->labels.data(), 2, 16};
  auto grads = [&](uint64_t seed) {
    (*m)->ZeroGrads();
    EXPECT_TRUE(graph.ForwardBackward(batch, 0, seed, pool).ok());
    std::vector<float> all;
    for (const auto& t : (*m)->tensors) all.insert(all.end(), t->grad.begin(), t->grad.end());
    return all;
  };
  const std::vector<float> first = grads(5);
  EXPECT_EQ(grads(5), first);
  EXPECT_NE(grads(6), first);
}

TEST(Graph, RejectsBadBatches) {
  const auto rm = MakeRandomModel();
  auto weights = BindWeights(rm->config, rm->tensors, "random");
  ASSERT_TRUE(weights.ok());
  ThreadPool pool(1);
  MethodOptions o;
  auto m = BuildTrainableModel(rm->config, *weights, o, pool);
  ASSERT_TRUE(m.ok());
  LlamaTrainGraph graph(**m);
  std::vector<int32_t> tokens = rm->tokens, labels = rm->labels;
  EXPECT_FALSE(graph.ForwardBackward({tokens.data(), labels.data(), 0, 16}, 0, 0, pool).ok());
  tokens[3] = 48;
  EXPECT_FALSE(graph.ForwardBackward({tokens.data(), labels.data(), 2, 16}, 0, 0, pool).ok());
  tokens[3] = 1;
  labels[5] = 1000;
  EXPECT_FALSE(graph.Evaluate({tokens.data(), labels.data(), 2, 16}, pool).ok());
}

}  // namespace
}  // namespace leanlm
