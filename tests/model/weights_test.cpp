// ModelConfig::Validate, BindWeights and LlamaModel::Forward on bad input:
// every error names what is wrong; nothing crashes.
#include <gtest/gtest.h>

#include <map>

#include "forward_fixture.h"
#include "model/llama.h"

namespace leanlm {
namespace {

void ExpectError(const Status& s, std::initializer_list<const char*> parts) {
  ASSERT_FALSE(s.ok());
  for (const char* part : parts) EXPECT_NE(s.message().find(part), std::string::npos) << s.message();
}

TEST(ModelConfig, ValidateNamesTheField) {
  const ModelConfig good = LoadForwardFixture("gqa").config;
  EXPECT_TRUE(good.Validate("m.gguf").ok());
  struct Bad {
    void (*mutate)(ModelConfig&);
    const char* field;
  };
  const Bad cases[] = {
      {[](ModelConfig& c) { c.n_vocab = 0; }, "n_vocab"},
      {[](ModelConfig& c) { c.n_embd = -5; }, "n_embd"},
      {[](ModelConfig& c) { c.n_layer = 0; }, "n_layer"},
      {[](ModelConfig& c) { c.n_head_kv = 3; }, "n_head_kv"},
      {[](ModelConfig& c) { c.n_head_kv = 0; }, "n_head_kv"},
      {[](ModelConfig& c) { c.head_dim = 0; }, "head_dim"},
      {[](ModelConfig& c) { c.n_ff = int64_t{1} << 40; }, "n_ff"},
      {[](ModelConfig& c) { c.rope_dim = 7; }, "rope_dim"},
      {[](ModelConfig& c) { c.rope_dim = 10; }, "rope_dim"},
      {[](ModelConfig& c) { c.norm_eps = 0; }, "norm_eps"},
      {[](ModelConfig& c) { c.rope_theta = std::nanf(""); }, "rope_theta"},
      {[](ModelConfig& c) { c.rope_factor = -1; }, "rope_factor"},
      {[](ModelConfig& c) {
         c.rope_scaling = RopeScaling::kLlama3;
         c.rope_high_freq_factor = 1;
       },
       "rope_high_freq_factor"},
  };
  for (const Bad& b : cases) {
    ModelConfig c = good;
    b.mutate(c);
    ExpectError(c.Validate("m.gguf"), {"m.gguf", b.field});
  }
}

// The visitor's list against the tensors PyTorch wrote for each fixture:
// every fixture tensor is visited once, and every required one exists.
TEST(ForEachTensor, ListsExactlyTheFixtureTensors) {
  for (const char* name : {"gqa", "tied", "qkv_bias", "llama3", "gelu"}) {
    ForwardFixture f = LoadForwardFixture(name);
    ModelWeights w;
    std::map<std::string, int> seen;
    ASSERT_TRUE(ForEachTensor(f.config, w, [&](const WeightSpec& spec, TensorView&) {
                  ++seen[spec.name];
                  if (f.tensors.count(spec.name)) {
                    EXPECT_EQ(f.tensors.at(spec.name).ne, spec.ne) << spec.name;
                  } else {
                    EXPECT_FALSE(spec.required) << name << ": " << spec.name;
                  }
                  return Status::Ok();
                }).ok());
    for (const auto& [tensor, view] : f.tensors) EXPECT_EQ(seen[tensor], 1) << name << ": " << tensor;
  }
}

TEST(ForEachTensor, StopsAtTheFirstError) {
  const ModelConfig c = LoadForwardFixture("gqa").config;
  ModelWeights w;
  int calls = 0;
  const Status s = ForEachTensor(c, w, [&](const WeightSpec& spec, TensorView&) {
    ++calls;
    return spec.name == "blk.0.attn_k.weight" ? Status::Error("stop") : Status::Ok();
  });
  EXPECT_EQ(s.message(), "stop");
  EXPECT_EQ(calls, 5);  // token_embd, rope_freqs, attn_norm, attn_q, attn_k
}

TEST(BindWeights, MissingTensor) {
  ForwardFixture f = LoadForwardFixture("gqa");
  f.tensors.erase("blk.1.ffn_up.weight");
  ExpectError(BindWeights(f.config, f.tensors, "m.gguf").status(), {"m.gguf", "blk.1.ffn_up.weight", "missing"});
}

TEST(BindWeights, WrongShapeNamesBothShapes) {
  ForwardFixture f = LoadForwardFixture("gqa");
  f.tensors["blk.0.attn_k.weight"].ne[1] = 32;  // a full-width K where GQA expects 16 rows
  ExpectError(BindWeights(f.config, f.tensors, "m.gguf").status(),
              {"blk.0.attn_k.weight", "[32, 32]", "expected [32, 16]"});
  f = LoadForwardFixture("gqa");
  f.tensors["output_norm.weight"].ne[0] = 31;
  ExpectError(BindWeights(f.config, f.tensors, "m.gguf").status(), {"output_norm.weight", "[31]", "[32]"});
}

TEST(BindWeights, TypeThatIsNotAWeight) {
  ForwardFixture f = LoadForwardFixture("gqa");
  f.tensors["blk.0.ffn_gate.weight"].type = DType::kI32;
  ExpectError(BindWeights(f.config, f.tensors, "m.gguf").status(), {"blk.0.ffn_gate.weight", "i32"});
}

TEST(BindWeights, InvalidConfigIsRejectedFirst) {
  ForwardFixture f = LoadForwardFixture("gqa");
  f.config.n_head_kv = 3;
  ExpectError(BindWeights(f.config, f.tensors, "m.gguf").status(), {"m.gguf", "n_head_kv"});
}

TEST(BindWeights, AbsentOutputTiesTheHead) {
  ForwardFixture tied = LoadForwardFixture("tied");
  auto w = BindWeights(tied.config, tied.tensors, "tied");
  ASSERT_TRUE(w.ok()) << w.status().message();
  EXPECT_EQ(w->output.data, w->token_embd.data);
  ForwardFixture untied = LoadForwardFixture("gqa");
  auto u = BindWeights(untied.config, untied.tensors, "gqa");
  ASSERT_TRUE(u.ok());
  EXPECT_NE(u->output.data, u->token_embd.data);
}

// Biases are bound whenever present (a GGUF has no flag for them) and are
// required when the config asks for them.
TEST(BindWeights, Biases) {
  ForwardFixture f = LoadForwardFixture("qkv_bias");
  f.config.qkv_bias = false;
  auto w = BindWeights(f.config, f.tensors, "qkv_bias");
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(w->layers[1].bv.valid());
  LlamaModel model(f.config, std::move(w).value());
  ThreadPool pool(1);
  KvCache cache(f.config, f.n_tokens);
  std::vector<float> logits(f.logits.size());
  ASSERT_TRUE(model.Forward(f.tokens.data(), f.n_tokens, 0, cache, logits.data(), true, pool).ok());
  for (size_t i = 0; i < logits.size(); ++i) ASSERT_NEAR(logits[i], f.logits[i], 1e-4f);

  f.config.qkv_bias = true;
  f.tensors.erase("blk.0.attn_k.bias");
  ExpectError(BindWeights(f.config, f.tensors, "m").status(), {"blk.0.attn_k.bias"});
}

class ForwardErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    f_ = LoadForwardFixture("gqa");
    auto w = BindWeights(f_.config, f_.tensors, "gqa");
    ASSERT_TRUE(w.ok());
    model_ = std::make_unique<LlamaModel>(f_.config, std::move(w).value());
    logits_.resize(static_cast<size_t>(8 * f_.config.n_vocab));
  }
  Status Run(std::vector<int32_t> tokens, int64_t pos, KvCache& cache) {
    return model_->Forward(tokens.data(), static_cast<int64_t>(tokens.size()), pos, cache, logits_.data(), true,
                           pool_);
  }
  ForwardFixture f_;
  std::unique_ptr<LlamaModel> model_;
  std::vector<float> logits_;
  ThreadPool pool_{2};
};

TEST_F(ForwardErrors, TokenIdOutOfRange) {
  KvCache cache(f_.config, 8);
  ExpectError(Run({1, 64, 2}, 0, cache), {"token id 64", "index 1", "[0, 64)"});
  ExpectError(Run({-1}, 0, cache), {"token id -1"});
  EXPECT_TRUE(Run({0, 63}, 0, cache).ok());
}

TEST_F(ForwardErrors, PastTheCache) {
  KvCache cache(f_.config, 8);
  EXPECT_TRUE(Run({1, 2, 3, 4, 5}, 0, cache).ok());
  ExpectError(Run({6, 7, 8, 9}, 5, cache), {"5..8", "context of 8"});
  ExpectError(Run({1}, 8, cache), {"context of 8"});
  ExpectError(Run({1}, -1, cache), {"-1"});
  ExpectError(Run({}, 0, cache), {"no tokens"});
  EXPECT_TRUE(Run({6, 7, 8}, 5, cache).ok());
}

TEST_F(ForwardErrors, CacheOfAnotherModel) {
  ModelConfig other = f_.config;
  other.n_head_kv = 4;  // same kv_dim, other heads
  other.head_dim = 4;
  KvCache cache(other, 8);
  ExpectError(Run({1}, 0, cache), {"another model"});
}

}  // namespace
}  // namespace leanlm
