// ModelConfig <-> GGUF metadata: llama.cpp's own files (stories260K and the
// vocab-only files carry real model hyper-parameters), round trips, and
// Llama-3 RoPE factors against values produced by llama.cpp's converter.
#include "io/gguf_model.h"

#include <gtest/gtest.h>

#include <cmath>

#include "gguf_test_util.h"

namespace leanlm {
namespace {

using testing_util::DataDir;
using testing_util::FileExists;
using testing_util::TempDir;

Result<std::unique_ptr<GgufFile>> WriteAndOpen(const GgufWriter& w, const TempDir& tmp) {
  static int counter = 0;
  const std::string path = tmp.File("m" + std::to_string(counter++) + ".gguf");
  LEANLM_RETURN_IF_ERROR(w.Write(path));
  return GgufFile::Open(path);
}

// Buffers for the tensors ConfigFromGguf consults.
struct FakeTensors {
  std::vector<float> data = std::vector<float>(1 << 12, 0.0f);
  TensorView View(std::array<int64_t, 4> ne, int n_dims) const {
    TensorView v;
    v.data = data.data();
    v.ne = ne;
    v.n_dims = n_dims;
    return v;
  }
};

ModelConfig SmallLlama() {
  ModelConfig c;
  c.arch = "llama";
  c.n_vocab = 40;
  c.n_embd = 16;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.n_ff = 24;
  c.head_dim = 4;
  c.n_ctx_train = 128;
  c.norm_eps = 1e-6f;
  c.rope_theta = 500000.0f;
  return c;
}

void ExpectSameConfig(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.arch, b.arch);
  EXPECT_EQ(a.n_vocab, b.n_vocab);
  EXPECT_EQ(a.n_embd, b.n_embd);
  EXPECT_EQ(a.n_layer, b.n_layer);
  EXPECT_EQ(a.n_head, b.n_head);
  EXPECT_EQ(a.n_head_kv, b.n_head_kv);
  EXPECT_EQ(a.n_ff, b.n_ff);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.n_ctx_train, b.n_ctx_train);
  EXPECT_EQ(a.norm_eps, b.norm_eps);
  EXPECT_EQ(a.rope_theta, b.rope_theta);
  EXPECT_EQ(a.rope_neox, b.rope_neox);
  EXPECT_EQ(a.rotary_dim(), b.rotary_dim());
  EXPECT_EQ(a.rope_scaling, b.rope_scaling);
  EXPECT_EQ(a.tied_embeddings, b.tied_embeddings);
  EXPECT_EQ(a.qkv_bias, b.qkv_bias);
  EXPECT_EQ(a.activation, b.activation);
  EXPECT_EQ(a.embed_scale, b.embed_scale);
}

TEST(GgufModel, Stories260K) {
  const std::string path = DataDir() + "/stories260K/stories260K.gguf";
  if (!FileExists(path)) GTEST_SKIP() << "../shared/data/stories260K not present";
  auto g = GgufFile::Open(path);
  ASSERT_TRUE(g.ok()) << g.status().message();
  auto c = ConfigFromGguf(**g);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->arch, "llama");
  EXPECT_EQ(c->n_vocab, 512);
  EXPECT_EQ(c->n_embd, 64);
  EXPECT_EQ(c->n_layer, 5);
  EXPECT_EQ(c->n_head, 8);
  EXPECT_EQ(c->n_head_kv, 4);
  EXPECT_EQ(c->n_ff, 172);
  EXPECT_EQ(c->head_dim, 8);
  EXPECT_EQ(c->rotary_dim(), 8);
  EXPECT_EQ(c->n_ctx_train, 2048);  // what the file says (trained at 512)
  EXPECT_FLOAT_EQ(c->norm_eps, 1e-5f);
  EXPECT_EQ(c->rope_theta, 10000.0f);
  EXPECT_FALSE(c->rope_neox);
  EXPECT_EQ(c->rope_scaling, RopeScaling::kNone);
  EXPECT_FALSE(c->qkv_bias);
  // The file stores output.weight (a copy of token_embd), so it is untied here.
  EXPECT_FALSE(c->tied_embeddings);
  EXPECT_EQ(c->activation, Activation::kSilu);
}

// The vocab-only files keep the hyper-parameters of the models they came from.
TEST(GgufModel, VocabFilesMetadata) {
  const std::string dir = DataDir() + "/vocab/";
  if (!FileExists(dir + "ggml-vocab-llama-spm.gguf")) GTEST_SKIP() << "../shared/data/vocab not present";
  auto open = [&](const char* name) {
    auto g = GgufFile::Open(dir + name);
    EXPECT_TRUE(g.ok()) << name;
    return std::move(g).value();
  };
  auto spm = ConfigFromGguf(*open("ggml-vocab-llama-spm.gguf"));
  ASSERT_TRUE(spm.ok()) << spm.status().message();
  EXPECT_EQ(spm->n_vocab, 32000);
  EXPECT_EQ(spm->n_embd, 4096);
  EXPECT_EQ(spm->head_dim, 128);
  EXPECT_EQ(spm->n_ff, 11008);
  EXPECT_EQ(spm->n_ctx_train, 4096);
  EXPECT_FALSE(spm->rope_neox);

  auto ds = ConfigFromGguf(*open("ggml-vocab-deepseek-coder.gguf"));
  ASSERT_TRUE(ds.ok()) << ds.status().message();
  EXPECT_EQ(ds->rope_scaling, RopeScaling::kLinear);
  EXPECT_EQ(ds->rope_factor, 4.0f);
  EXPECT_EQ(ds->rope_theta, 100000.0f);
  EXPECT_EQ(ds->n_vocab, 32256);
  EXPECT_FLOAT_EQ(ds->norm_eps, 1e-6f);

  auto phi = ConfigFromGguf(*open("ggml-vocab-phi-3.gguf"));
  ASSERT_TRUE(phi.ok()) << phi.status().message();
  EXPECT_TRUE(phi->rope_neox);
  EXPECT_EQ(phi->head_dim, 96);
  EXPECT_EQ(phi->n_vocab, 32064);
  EXPECT_EQ(phi->rope_orig_ctx, 4096);

  auto baichuan = ConfigFromGguf(*open("ggml-vocab-baichuan.gguf"));
  ASSERT_FALSE(baichuan.ok());
  EXPECT_NE(baichuan.status().message().find("architecture 'baichuan' is not supported"), std::string::npos);
}

TEST(GgufModel, RoundTripLlama) {
  TempDir tmp;
  FakeTensors t;
  ModelConfig c = SmallLlama();
  c.rope_scaling = RopeScaling::kLinear;
  c.rope_factor = 2.5f;
  GgufWriter w;
  ConfigToGguf(c, w);
  ASSERT_TRUE(w.AddTensor("token_embd.weight", t.View({16, 40, 1, 1}, 2)).ok());
  ASSERT_TRUE(w.AddTensor("output.weight", t.View({16, 40, 1, 1}, 2)).ok());
  auto g = WriteAndOpen(w, tmp);
  ASSERT_TRUE(g.ok()) << g.status().message();
  // llama.cpp checks these value types.
  EXPECT_EQ((*g)->Find("llama.block_count")->type, GgufType::kUint32);
  EXPECT_EQ((*g)->Find("llama.attention.layer_norm_rms_epsilon")->type, GgufType::kFloat32);
  EXPECT_EQ((*g)->GetString("llama.rope.scaling.type").value(), "linear");
  auto back = ConfigFromGguf(**g);
  ASSERT_TRUE(back.ok()) << back.status().message();
  ExpectSameConfig(c, *back);
  EXPECT_EQ(back->rope_factor, 2.5f);
}

TEST(GgufModel, RoundTripQwen2AndGemma) {
  TempDir tmp;
  FakeTensors t;
  ModelConfig q = SmallLlama();
  q.arch = "qwen2";
  q.rope_neox = true;
  q.qkv_bias = true;
  q.tied_embeddings = true;
  GgufWriter wq;
  ConfigToGguf(q, wq);
  ASSERT_TRUE(wq.AddTensor("token_embd.weight", t.View({16, 40, 1, 1}, 2)).ok());
  ASSERT_TRUE(wq.AddTensor("blk.0.attn_q.bias", t.View({16, 1, 1, 1}, 1)).ok());
  auto gq = WriteAndOpen(wq, tmp);
  ASSERT_TRUE(gq.ok()) << gq.status().message();
  auto bq = ConfigFromGguf(**gq);
  ASSERT_TRUE(bq.ok()) << bq.status().message();
  ExpectSameConfig(q, *bq);

  // Gemma: head_dim differs from n_embd / n_head (key_length carries it).
  ModelConfig m = SmallLlama();
  m.arch = "gemma";
  m.n_head = 2;
  m.n_head_kv = 1;
  m.head_dim = 12;
  m.rope_neox = true;
  m.tied_embeddings = true;
  m.activation = Activation::kGeluTanh;
  m.embed_scale = 4.0f;  // sqrt(16)
  GgufWriter wm;
  ConfigToGguf(m, wm);
  ASSERT_TRUE(wm.AddTensor("token_embd.weight", t.View({16, 40, 1, 1}, 2)).ok());
  auto gm = WriteAndOpen(wm, tmp);
  ASSERT_TRUE(gm.ok()) << gm.status().message();
  auto bm = ConfigFromGguf(**gm);
  ASSERT_TRUE(bm.ok()) << bm.status().message();
  ExpectSameConfig(m, *bm);
}

// rope_freqs.weight of Llama 3.1 8B (theta 500000, head_dim 128, factor 8,
// low 1, high 4, original context 8192) as llama.cpp's convert_hf_to_gguf.py
// computes it (torch float32): indices 0..28 are 1, 35..63 are 8.
std::vector<float> Llama31RopeFreqs() {
  std::vector<float> f(64, 1.0f);
  const float mid[6] = {1.2074838876724243f, 1.5534145832061768f, 2.026313066482544f,
                        2.6945300102233887f, 3.684253215789795f,  5.257327079772949f};
  for (int i = 0; i < 6; ++i) f[29 + i] = mid[i];
  for (int i = 35; i < 64; ++i) f[i] = 8.0f;
  return f;
}

ModelConfig Llama31() {
  ModelConfig c = SmallLlama();
  c.n_embd = 4096;
  c.n_head = 32;
  c.n_head_kv = 8;
  c.head_dim = 128;
  c.n_ctx_train = 131072;
  c.rope_scaling = RopeScaling::kLlama3;
  c.rope_factor = 8;
  c.rope_low_freq_factor = 1;
  c.rope_high_freq_factor = 4;
  c.rope_orig_ctx = 8192;
  return c;
}

TEST(GgufModel, Llama3FactorsMatchLlamaCpp) {
  const std::vector<float> expected = Llama31RopeFreqs();
  const std::vector<float> got = Llama3RopeFactors(Llama31());
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 2e-6f * expected[i]) << i;
}

TEST(GgufModel, Llama3ScalingFromRopeFreqsTensor) {
  TempDir tmp;
  FakeTensors t;
  ModelConfig c = Llama31();
  c.n_embd = 256;  // keeps the fake embedding small; head_dim stays 128
  c.n_vocab = 8;
  c.n_head = 2;
  c.n_head_kv = 1;
  GgufWriter w;
  ConfigToGguf(c, w);
  // The converter's tensor, not leanlm's: the parameters are recovered from it.
  const std::vector<float> freqs = Llama31RopeFreqs();
  TensorView fv;
  fv.data = freqs.data();
  fv.n_dims = 1;
  fv.ne = {64, 1, 1, 1};
  ASSERT_TRUE(w.AddTensor(kRopeFreqsTensor, fv).ok());
  ASSERT_TRUE(w.AddTensor("token_embd.weight", t.View({256, 8, 1, 1}, 2)).ok());
  auto g = WriteAndOpen(w, tmp);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ((*g)->Find("llama.rope.scaling.type"), nullptr);  // llama.cpp would reject "llama3"
  EXPECT_EQ((*g)->Find("llama.rope.scaling.factor"), nullptr);  // would mean linear to llama.cpp
  auto back = ConfigFromGguf(**g);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->rope_scaling, RopeScaling::kLlama3);
  EXPECT_EQ(back->rope_factor, 8.0f);
  EXPECT_NEAR(back->rope_low_freq_factor, 1.0f, 1e-3f);
  EXPECT_NEAR(back->rope_high_freq_factor, 4.0f, 1e-3f);
  EXPECT_EQ(back->rope_orig_ctx, 8192);
  const std::vector<float> again = Llama3RopeFactors(*back);
  for (size_t i = 0; i < again.size(); ++i) EXPECT_NEAR(again[i], freqs[i], 1e-5f * freqs[i]) << i;
}

// With a small head there may be 0 or 1 blended frequencies; the fitted
// thresholds must still reproduce every factor.
TEST(GgufModel, Llama3FitFewFrequencies) {
  TempDir tmp;
  FakeTensors t;
  // (original context, high_freq_factor): 0, 1 (with and without an
  // unscaled neighbour) and 2 blended frequencies, everything scaled,
  // nothing scaled.
  const std::pair<int64_t, float> cases[] = {{256, 1.5f}, {256, 40},  {16, 4},
                                             {1024, 40},  {4, 1.5f},  {1000000, 1.5f}};
  for (auto [orig, high] : cases) {
    ModelConfig c = SmallLlama();
    c.head_dim = 8;
    c.n_head = 2;
    c.n_head_kv = 1;
    c.rope_theta = 10000;
    c.rope_scaling = RopeScaling::kLlama3;
    c.rope_factor = 16;
    c.rope_low_freq_factor = 1;
    c.rope_high_freq_factor = high;
    c.rope_orig_ctx = orig;
    const std::vector<float> freqs = Llama3RopeFactors(c);
    GgufWriter w;
    ConfigToGguf(c, w);
    TensorView fv;
    fv.data = freqs.data();
    fv.n_dims = 1;
    fv.ne = {4, 1, 1, 1};
    ASSERT_TRUE(w.AddTensor(kRopeFreqsTensor, fv).ok());
    ASSERT_TRUE(w.AddTensor("token_embd.weight", t.View({16, 40, 1, 1}, 2)).ok());
    auto g = WriteAndOpen(w, tmp);
    ASSERT_TRUE(g.ok()) << g.status().message();
    auto back = ConfigFromGguf(**g);
    ASSERT_TRUE(back.ok()) << back.status().message();
    const std::vector<float> again = Llama3RopeFactors(*back);
    for (size_t i = 0; i < again.size(); ++i) EXPECT_NEAR(again[i], freqs[i], 1e-4f * freqs[i]) << orig << " " << i;
  }
}

// ---- Errors name the file and the key ----

// Writes SmallLlama's metadata with `edit` applied, plus a token embedding
// of `vocab` rows, and returns ConfigFromGguf's error message.
template <typename Edit>
std::string ConfigError(Edit edit, int64_t vocab = 40) {
  TempDir tmp;
  FakeTensors t;
  GgufWriter w;
  ConfigToGguf(SmallLlama(), w);
  edit(w);
  EXPECT_TRUE(w.AddTensor("token_embd.weight", t.View({16, vocab, 1, 1}, 2)).ok());
  auto g = WriteAndOpen(w, tmp);
  EXPECT_TRUE(g.ok()) << g.status().message();
  if (!g.ok()) return "";
  auto c = ConfigFromGguf(**g);
  EXPECT_FALSE(c.ok());
  return c.ok() ? "" : c.status().message();
}

TEST(GgufModelErrors, Keys) {
  auto has = [](const std::string& msg, const char* fragment) {
    EXPECT_NE(msg.find(fragment), std::string::npos) << "missing '" << fragment << "' in: " << msg;
    EXPECT_NE(msg.find(".gguf"), std::string::npos) << msg;
  };
  has(ConfigError([](GgufWriter& w) { w.Set("llama.block_count", GgufValue::Str("2")); }),
      "'llama.block_count' has type string (expected an integer)");
  has(ConfigError([](GgufWriter& w) { w.Set("llama.attention.head_count", GgufValue::U32(0)); }),
      "'llama.attention.head_count' is 0 (expected 1..");
  has(ConfigError([](GgufWriter& w) { w.Set("llama.attention.head_count_kv", GgufValue::U32(3)); }),
      "head_count 4 is not a multiple of head_count_kv 3");
  has(ConfigError([](GgufWriter& w) { w.Set("llama.attention.layer_norm_rms_epsilon", GgufValue::F32(-1)); }),
      "'llama.attention.layer_norm_rms_epsilon' is");
  has(ConfigError([](GgufWriter& w) { w.Set("llama.rope.scaling.type", GgufValue::Str("yarn")); }),
      "RoPE scaling type 'yarn'");
  has(ConfigError([](GgufWriter& w) { w.Set("general.architecture", GgufValue::Str("llama4")); }),
      "architecture 'llama4' is not supported");
  has(ConfigError([](GgufWriter& w) { w.Set("llama.attention.value_length", GgufValue::U32(8)); }),
      "value_length 8 differs from key_length 4");
  has(ConfigError([](GgufWriter& w) {
        w.Set("llama.feed_forward_length", GgufValue::Array(GgufType::kUint32, {GgufValue::U32(24), GgufValue::U32(32)}));
      }),
      "'llama.feed_forward_length' differs between layers");
  has(ConfigError([](GgufWriter& w) { w.Set("tokenizer.ggml.tokens", GgufValue::StrArray({"a", "b"})); }),
      "tokenizer.ggml.tokens has 2 tokens but the model has 40");
  has(ConfigError([](GgufWriter&) {}, 41), "'llama.vocab_size' is 40 but the model has 41 tokens");
}

TEST(GgufModelErrors, MissingKey) {
  TempDir tmp;
  GgufWriter w;
  w.Set("general.architecture", GgufValue::Str("llama"));
  w.Set("llama.context_length", GgufValue::U32(64));
  auto g = WriteAndOpen(w, tmp);
  ASSERT_TRUE(g.ok());
  auto c = ConfigFromGguf(**g);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("key 'llama.embedding_length' is missing"), std::string::npos)
      << c.status().message();
}

TEST(GgufModelErrors, BadRopeFreqs) {
  FakeTensors t;
  const std::vector<float> decreasing = {8, 4, 2, 1};
  auto msg = ConfigError([&](GgufWriter& w) {
    TensorView fv;
    fv.data = decreasing.data();
    fv.n_dims = 1;
    fv.ne = {2, 1, 1, 1};
    EXPECT_TRUE(w.AddTensor(kRopeFreqsTensor, fv).ok());
  });
  EXPECT_NE(msg.find("does not hold Llama-3 RoPE factors"), std::string::npos) << msg;
  auto shape = ConfigError([&](GgufWriter& w) {
    TensorView fv;
    fv.data = decreasing.data();
    fv.n_dims = 1;
    fv.ne = {4, 1, 1, 1};
    EXPECT_TRUE(w.AddTensor(kRopeFreqsTensor, fv).ok());
  });
  EXPECT_NE(shape.find("rope_freqs.weight is f32 [4] (expected f32 [2])"), std::string::npos) << shape;
  auto longrope = ConfigError([&](GgufWriter& w) {
    EXPECT_TRUE(w.AddTensor("rope_factors_long.weight", t.View({2, 1, 1, 1}, 1)).ok());
  });
  EXPECT_NE(longrope.find("LongRoPE"), std::string::npos) << longrope;
}

}  // namespace
}  // namespace leanlm
