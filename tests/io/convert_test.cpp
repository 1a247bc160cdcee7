// Conversion: llama2.c -> GGUF against llama.cpp's own GGUF of the same
// model, GGUF -> HF -> GGUF, and the Q/K RoPE row permutation (exact
// inverse, and equivalent under RoPE applied in each layout).
#include "io/convert.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "io/gguf.h"
#include "io/gguf_model.h"
#include "io/hf_dir.h"
#include "io/rope_permute.h"
#include "gguf_test_util.h"

namespace leanlm {
namespace {

using testing_util::DataDir;
using testing_util::FileExists;
using testing_util::TempDir;

std::string Stories(const char* name) { return DataDir() + "/stories260K/" + name; }
bool HaveStories() {
  return FileExists(Stories("stories260K.gguf")) && FileExists(Stories("stories260K.bin")) &&
         FileExists(Stories("tok512.bin"));
}

TensorView F32View(const std::vector<float>& data, std::array<int64_t, 4> ne, int n_dims) {
  TensorView v;
  v.data = data.data();
  v.ne = ne;
  v.n_dims = n_dims;
  return v;
}

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0, 1);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// ---- The permutation (io/rope_permute.h, which SaveGguf uses) ----

// `w` with its rows moved to adjacent pairs (to_pairs) or back to halves.
Result<std::vector<uint8_t>> PermuteRows(const TensorView& w, int64_t n_head, bool to_pairs) {
  std::vector<uint8_t> out(w.bytes());
  LEANLM_RETURN_IF_ERROR(
      PermuteRopeRows(w, n_head, to_pairs ? RopeLayout::kInterleaved : RopeLayout::kHalves, out.data()));
  return out;
}

TEST(RopePermutation, MatchesLlamaCppPermute) {
  // One head of 8 rows labelled by index: numpy's reshape(1, 2, 4, cols)
  // .swapaxes(1, 2) interleaves the halves.
  std::vector<float> rows = {0, 1, 2, 3, 4, 5, 6, 7};
  auto out = PermuteRows(F32View(rows, {1, 8, 1, 1}, 2), 1, true);
  ASSERT_TRUE(out.ok()) << out.status().message();
  const auto* p = reinterpret_cast<const float*>(out->data());
  EXPECT_EQ(std::vector<float>(p, p + 8), (std::vector<float>{0, 4, 1, 5, 2, 6, 3, 7}));
  // Two heads of 4 (a 1-D bias): each head on its own.
  auto bias = PermuteRows(F32View(rows, {8, 1, 1, 1}, 1), 2, true);
  ASSERT_TRUE(bias.ok());
  p = reinterpret_cast<const float*>(bias->data());
  EXPECT_EQ(std::vector<float>(p, p + 8), (std::vector<float>{0, 2, 1, 3, 4, 6, 5, 7}));
}

TEST(RopePermutation, ExactInverse) {
  const int64_t cols = 6, n_head = 3, head_dim = 10;
  const std::vector<float> w = Random(cols * n_head * head_dim, 1);
  auto pairs = PermuteRows(F32View(w, {cols, n_head * head_dim, 1, 1}, 2), n_head, true);
  ASSERT_TRUE(pairs.ok());
  TensorView pv = F32View(w, {cols, n_head * head_dim, 1, 1}, 2);
  pv.data = pairs->data();
  auto back = PermuteRows(pv, n_head, false);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), w.size() * 4);
  EXPECT_EQ(std::memcmp(back->data(), w.data(), back->size()), 0);
  EXPECT_NE(std::memcmp(pairs->data(), w.data(), pairs->size()), 0);

  // Rows of 2-byte elements move as whole rows too.
  std::vector<uint16_t> h(4 * 8);
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<uint16_t>(i);
  TensorView hv;
  hv.data = h.data();
  hv.type = DType::kF16;
  hv.n_dims = 2;
  hv.ne = {4, 8, 1, 1};
  auto hp = PermuteRows(hv, 2, true);
  ASSERT_TRUE(hp.ok());
  hv.data = hp->data();
  auto hb = PermuteRows(hv, 2, false);
  ASSERT_TRUE(hb.ok());
  EXPECT_EQ(std::memcmp(hb->data(), h.data(), h.size() * 2), 0);

  EXPECT_FALSE(PermuteRows(F32View(w, {cols, 30, 1, 1}, 2), 4, true).ok());  // 30 rows, 4 heads
  EXPECT_FALSE(PermuteRows(F32View(w, {cols, 30, 1, 1}, 2), 6, true).ok());  // odd head size 5
}

// RoPE on adjacent pairs (x[2i], x[2i+1]) vs on halves (x[i], x[i + d/2]),
// both with theta_i = pos * base^(-2i/d).
void RopePairs(float* x, int64_t d, int pos) {
  for (int64_t i = 0; i < d / 2; ++i) {
    const double th = pos * std::pow(10000.0, -2.0 * i / d);
    const double a = x[2 * i], b = x[2 * i + 1];
    x[2 * i] = static_cast<float>(a * std::cos(th) - b * std::sin(th));
    x[2 * i + 1] = static_cast<float>(a * std::sin(th) + b * std::cos(th));
  }
}
void RopeHalves(float* x, int64_t d, int pos) {
  for (int64_t i = 0; i < d / 2; ++i) {
    const double th = pos * std::pow(10000.0, -2.0 * i / d);
    const double a = x[i], b = x[i + d / 2];
    x[i] = static_cast<float>(a * std::cos(th) - b * std::sin(th));
    x[i + d / 2] = static_cast<float>(a * std::sin(th) + b * std::cos(th));
  }
}

std::vector<float> MatVec(const float* w, const std::vector<float>& x, int64_t rows) {
  std::vector<float> y(static_cast<size_t>(rows), 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0;
    for (size_t c = 0; c < x.size(); ++c) s += static_cast<double>(w[r * x.size() + c]) * x[c];
    y[static_cast<size_t>(r)] = static_cast<float>(s);
  }
  return y;
}

TEST(RopePermutation, LayoutsAreEquivalentUnderRope) {
  const int64_t n_embd = 12, n_head = 2, d = 8, rows = n_head * d;
  const std::vector<float> wq = Random(rows * n_embd, 2), wk = Random(rows * n_embd, 3);
  const std::vector<float> x = Random(n_embd, 4), y = Random(n_embd, 5);
  auto wq_pairs = PermuteRows(F32View(wq, {n_embd, rows, 1, 1}, 2), n_head, true);
  auto wk_pairs = PermuteRows(F32View(wk, {n_embd, rows, 1, 1}, 2), n_head, true);
  ASSERT_TRUE(wq_pairs.ok() && wk_pairs.ok());
  for (int pos : {0, 1, 7, 300}) {
    std::vector<float> q_h = MatVec(wq.data(), x, rows), k_h = MatVec(wk.data(), y, rows);
    std::vector<float> q_p = MatVec(reinterpret_cast<const float*>(wq_pairs->data()), x, rows);
    std::vector<float> k_p = MatVec(reinterpret_cast<const float*>(wk_pairs->data()), y, rows);
    for (int64_t h = 0; h < n_head; ++h) {
      RopeHalves(q_h.data() + h * d, d, pos);
      RopeHalves(k_h.data() + h * d, d, pos + 3);
      RopePairs(q_p.data() + h * d, d, pos);
      RopePairs(k_p.data() + h * d, d, pos + 3);
      double dot_h = 0, dot_p = 0;
      for (int64_t j = 0; j < d; ++j) {
        dot_h += static_cast<double>(q_h[h * d + j]) * k_h[h * d + j];
        dot_p += static_cast<double>(q_p[h * d + j]) * k_p[h * d + j];
      }
      EXPECT_NEAR(dot_h, dot_p, 1e-4 * (1 + std::fabs(dot_h))) << pos;  // same attention scores
      for (int64_t i = 0; i < d / 2; ++i) {
        for (int64_t t = 0; t < 2; ++t) {  // same rotated values, in the other order
          EXPECT_NEAR(q_p[h * d + 2 * i + t], q_h[h * d + t * d / 2 + i], 1e-4) << pos;
        }
      }
    }
  }
}

// ---- Whole models ----

void ExpectTensorsEqual(const GgufFile& a, const GgufFile& b, bool b_is_untied_copy) {
  for (const GgufTensorInfo& t : a.tensors()) {
    const GgufTensorInfo* u = b.FindTensor(t.name);
    ASSERT_NE(u, nullptr) << t.name;
    EXPECT_EQ(t.view.type, u->view.type) << t.name;
    EXPECT_EQ(t.view.shape_string(), u->view.shape_string()) << t.name;
    ASSERT_EQ(t.view.bytes(), u->view.bytes()) << t.name;
    EXPECT_EQ(std::memcmp(t.view.data, u->view.data, t.view.bytes()), 0) << t.name;
  }
  if (b_is_untied_copy) {
    const GgufTensorInfo* out = b.FindTensor("output.weight");
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(std::memcmp(out->view.data, a.FindTensor("token_embd.weight")->view.data, out->view.bytes()), 0);
  }
}

TEST(Convert, Llama2cToGgufMatchesLlamaCpp) {
  if (!HaveStories()) GTEST_SKIP() << "../shared/data/stories260K not present";
  TempDir tmp;
  LoadOptions options;
  options.tokenizer_path = Stories("tok512.bin");
  Status st = ConvertModel(Stories("stories260K.bin"), tmp.File("s.gguf"), options);
  ASSERT_TRUE(st.ok()) << st.message();
  auto ours = GgufFile::Open(tmp.File("s.gguf"));
  ASSERT_TRUE(ours.ok()) << ours.status().message();
  auto ref = GgufFile::Open(Stories("stories260K.gguf"));
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ((*ours)->tensors().size(), 47u);  // tied: no output.weight
  ExpectTensorsEqual(**ours, **ref, /*b_is_untied_copy=*/true);
  EXPECT_EQ((*ours)->GetStringArray("tokenizer.ggml.tokens").value(),
            (*ref)->GetStringArray("tokenizer.ggml.tokens").value());
  auto c = ConfigFromGguf(**ours);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->tied_embeddings);
  EXPECT_EQ(c->n_ctx_train, 512);

  // Without a tokenizer there is nothing to put in tokenizer.ggml.*.
  Status none = ConvertModel(Stories("stories260K.bin"), tmp.File("n.gguf"), {});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.message().find("no tokenizer"), std::string::npos) << none.message();
  EXPECT_FALSE(FileExists(tmp.File("n.gguf")));
}

TEST(Convert, GgufToGgufIsIdentical) {
  if (!HaveStories()) GTEST_SKIP() << "../shared/data/stories260K not present";
  TempDir tmp;
  ASSERT_TRUE(ConvertModel(Stories("stories260K.gguf"), tmp.File("s.gguf"), {}).ok());
  auto ours = GgufFile::Open(tmp.File("s.gguf"));
  auto ref = GgufFile::Open(Stories("stories260K.gguf"));
  ASSERT_TRUE(ours.ok() && ref.ok());
  EXPECT_EQ((*ours)->tensors().size(), 48u);
  ExpectTensorsEqual(**ref, **ours, false);
}

TEST(Convert, GgufToHfToGguf) {
  if (!HaveStories()) GTEST_SKIP() << "../shared/data/stories260K not present";
  TempDir tmp;
  Status to_hf = ConvertModel(Stories("stories260K.gguf"), tmp.File("hf"), {});
  ASSERT_TRUE(to_hf.ok()) << to_hf.message();
  auto hf = LoadModelSource(tmp.File("hf"));
  ASSERT_TRUE(hf.ok()) << hf.status().message();
  EXPECT_TRUE(hf->config.rope_neox);  // HF layout
  auto ref = GgufFile::Open(Stories("stories260K.gguf"));
  ASSERT_TRUE(ref.ok());
  // Q/K rows differ in the HF layout, V does not.
  const TensorView& q = hf->tensors.at("blk.0.attn_q.weight");
  EXPECT_NE(std::memcmp(q.data, (*ref)->FindTensor("blk.0.attn_q.weight")->view.data, q.bytes()), 0);
  const TensorView& v = hf->tensors.at("blk.0.attn_v.weight");
  EXPECT_EQ(std::memcmp(v.data, (*ref)->FindTensor("blk.0.attn_v.weight")->view.data, v.bytes()), 0);

  // Back with the directory's tokenizer.json, and with a tokenizer given
  // in another format (the override of LoadModelSource).
  LoadOptions with_gguf_vocab;
  with_gguf_vocab.tokenizer_path = Stories("stories260K.gguf");
  for (const LoadOptions& options : {LoadOptions(), with_gguf_vocab}) {
    Status back = ConvertModel(tmp.File("hf"), tmp.File("back.gguf"), options);
    ASSERT_TRUE(back.ok()) << back.message();
    auto ours = GgufFile::Open(tmp.File("back.gguf"));
    ASSERT_TRUE(ours.ok()) << ours.status().message();
    ExpectTensorsEqual(**ours, **ref, false);
    EXPECT_EQ((*ours)->GetStringArray("tokenizer.ggml.tokens").value(),
              (*ref)->GetStringArray("tokenizer.ggml.tokens").value());
    auto c = ConfigFromGguf(**ours);
    ASSERT_TRUE(c.ok()) << c.status().message();
    EXPECT_FALSE(c->rope_neox);
    EXPECT_EQ(c->n_layer, 5);
  }
}

// A tiny model held in memory, for the paths real files do not cover.
struct TinySource {
  ModelSource src;
  std::vector<std::vector<float>> buffers;
  TinySource(const std::string& arch, bool neox) {
    ModelConfig& c = src.config;
    c.arch = arch;
    c.n_vocab = 6;
    c.n_embd = 8;
    c.n_layer = 1;
    c.n_head = 2;
    c.n_head_kv = 1;
    c.n_ff = 4;
    c.head_dim = 4;
    c.rope_neox = neox;
    c.tied_embeddings = true;
    Add("token_embd.weight", {8, 6, 1, 1}, 2);
    Add("output_norm.weight", {8, 1, 1, 1}, 1);
    Add("blk.0.attn_q.weight", {8, 8, 1, 1}, 2);
    Add("blk.0.attn_k.weight", {8, 4, 1, 1}, 2);
    Add("blk.0.attn_v.weight", {8, 4, 1, 1}, 2);
    VocabData vocab;
    vocab.model = "llama";
    vocab.tokens = {"<unk>", "<s>", "</s>", "a"};
    vocab.scores = {0, 0, 0, -1};
    vocab.token_types = {2, 3, 3, 1};
    vocab.bos_id = 1;
    vocab.eos_id = 2;
    vocab.unk_id = 0;
    src.vocab = vocab;
  }
  void Add(const std::string& name, std::array<int64_t, 4> ne, int n_dims) {
    buffers.push_back(Random(static_cast<size_t>(ne[0] * ne[1]), static_cast<uint32_t>(buffers.size() + 10)));
    src.tensors[name] = F32View(buffers.back(), ne, n_dims);
  }
};

TEST(Convert, PermutesOnlyWhenLayoutsDiffer) {
  TempDir tmp;
  // HF-layout llama: Q/K go to adjacent pairs. qwen2 stored in pairs: to halves.
  for (auto [arch, neox, to_pairs] : {std::tuple{"llama", true, true}, std::tuple{"qwen2", false, false}}) {
    TinySource t(arch, neox);
    const std::string path = tmp.File(std::string(arch) + ".gguf");
    Status st = SaveGguf(t.src, path);
    ASSERT_TRUE(st.ok()) << st.message();
    auto g = GgufFile::Open(path);
    ASSERT_TRUE(g.ok()) << g.status().message();
    for (auto [name, heads] : {std::pair{"blk.0.attn_q.weight", 2}, std::pair{"blk.0.attn_k.weight", 1}}) {
      auto expected = PermuteRows(t.src.tensors.at(name), heads, to_pairs);
      ASSERT_TRUE(expected.ok());
      EXPECT_EQ(std::memcmp((*g)->FindTensor(name)->view.data, expected->data(), expected->size()), 0) << name;
    }
    const TensorView& v = t.src.tensors.at("blk.0.attn_v.weight");
    EXPECT_EQ(std::memcmp((*g)->FindTensor("blk.0.attn_v.weight")->view.data, v.data, v.bytes()), 0);
    // The vocabulary is padded to the embedding's 6 rows, as llama.cpp's converter does.
    auto tokens = (*g)->GetStringArray("tokenizer.ggml.tokens");
    ASSERT_TRUE(tokens.ok()) << tokens.status().message();
    EXPECT_EQ(tokens.value(), (std::vector<std::string>{"<unk>", "<s>", "</s>", "a", "[PAD4]", "[PAD5]"}));
    EXPECT_EQ((*g)->GetIntArray("tokenizer.ggml.token_type").value()[5], static_cast<int32_t>(TokenType::kUnused));
    auto c = ConfigFromGguf(**g);
    ASSERT_TRUE(c.ok()) << c.status().message();
    EXPECT_EQ(c->rope_neox, std::string(arch) == "qwen2");
  }
  // Nothing to permute: llama already in pairs. Llama-3 scaling adds rope_freqs.
  TinySource t("llama", false);
  t.src.config.rope_scaling = RopeScaling::kLlama3;
  t.src.config.rope_factor = 8;
  t.src.config.rope_orig_ctx = 16;
  ASSERT_TRUE(SaveGguf(t.src, tmp.File("l3.gguf")).ok());
  auto g = GgufFile::Open(tmp.File("l3.gguf"));
  ASSERT_TRUE(g.ok());
  const TensorView& q = t.src.tensors.at("blk.0.attn_q.weight");
  EXPECT_EQ(std::memcmp((*g)->FindTensor("blk.0.attn_q.weight")->view.data, q.data, q.bytes()), 0);
  const GgufTensorInfo* freqs = (*g)->FindTensor(kRopeFreqsTensor);
  ASSERT_NE(freqs, nullptr);
  const std::vector<float> expected = Llama3RopeFactors(t.src.config);
  ASSERT_EQ(freqs->view.bytes(), expected.size() * 4);
  EXPECT_EQ(std::memcmp(freqs->view.data, expected.data(), freqs->view.bytes()), 0);
  auto c = ConfigFromGguf(**g);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->rope_scaling, RopeScaling::kLlama3);

  TinySource too_many("llama", false);
  too_many.src.vocab->tokens.resize(7, "x");
  Status st = SaveGguf(too_many.src, tmp.File("bad.gguf"));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("7 tokens but the model only 6"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace leanlm
