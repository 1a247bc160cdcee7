// HF directories: name mapping, loading (single file, shards, each model
// type's quirks), every bad directory, and export (names, PyTorch shapes, the
// Q/K permutation, tied heads, Gemma norms, Phi-3 fusion).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/fp16.h"
#include "io/hf_dir.h"
#include "io/hf_names.h"
#include "io/rope_permute.h"
#include "io/safetensors.h"
#include "tokenizer/vocab_loaders.h"

namespace leanlm {
namespace {

const std::string kFixture = std::string(LEANLM_SOURCE_DIR) + "/tests/fixtures/hf_tiny_llama";

// A fresh directory, removed when the test program exits.
std::string TempDir() {
  struct Dirs {
    std::vector<std::string> paths;
    ~Dirs() {
      for (const std::string& p : paths) std::filesystem::remove_all(p);
    }
  };
  static Dirs dirs;
  std::string tmpl = ::testing::TempDir() + "hf_dir_test_XXXXXX";
  EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
  dirs.paths.push_back(tmpl);
  return tmpl;
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string ReadText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// An F32 tensor given in PyTorch terms: shape outermost first, values row-major.
struct Pt {
  std::vector<int64_t> shape;
  std::vector<float> values;
};

Pt Filled(std::vector<int64_t> shape, float seed) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  Pt t{std::move(shape), std::vector<float>(n)};
  for (int64_t i = 0; i < n; ++i) t.values[i] = seed + 0.125f * static_cast<float>(i % 97) - 3.0f;
  return t;
}

TensorView ViewOf(const Pt& t) {
  TensorView v;
  v.data = t.values.data();
  v.type = DType::kF32;
  v.n_dims = static_cast<int>(t.shape.size());
  for (size_t i = 0; i < t.shape.size(); ++i) v.ne[i] = t.shape[t.shape.size() - 1 - i];
  return v;
}

void WriteTensors(const std::string& path, const std::map<std::string, Pt>& tensors) {
  std::map<std::string, TensorView> views;
  for (const auto& [name, t] : tensors) views[name] = ViewOf(t);
  ASSERT_TRUE(WriteSafetensors(path, views, {{"format", "pt"}}).ok());
}

std::string TinyConfig(const std::string& model_type, const std::string& extra = "") {
  return R"({"model_type": ")" + model_type +
         R"(", "vocab_size": 6, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
            "num_key_value_heads": 1, "intermediate_size": 4, "max_position_embeddings": 32)" +
         extra + "}";
}

// A one-layer model in HF's names: hidden 8, 2 heads of 4, 1 KV head, FFN 4, vocab 6.
std::map<std::string, Pt> TinyLlamaTensors(bool with_head = true) {
  std::map<std::string, Pt> t;
  t["model.embed_tokens.weight"] = Filled({6, 8}, 1);
  t["model.layers.0.input_layernorm.weight"] = Filled({8}, 2);
  t["model.layers.0.self_attn.q_proj.weight"] = Filled({8, 8}, 3);
  t["model.layers.0.self_attn.k_proj.weight"] = Filled({4, 8}, 4);
  t["model.layers.0.self_attn.v_proj.weight"] = Filled({4, 8}, 5);
  t["model.layers.0.self_attn.o_proj.weight"] = Filled({8, 8}, 6);
  t["model.layers.0.post_attention_layernorm.weight"] = Filled({8}, 7);
  t["model.layers.0.mlp.gate_proj.weight"] = Filled({4, 8}, 8);
  t["model.layers.0.mlp.up_proj.weight"] = Filled({4, 8}, 9);
  t["model.layers.0.mlp.down_proj.weight"] = Filled({8, 4}, 10);
  t["model.norm.weight"] = Filled({8}, 11);
  if (with_head) t["lm_head.weight"] = Filled({6, 8}, 12);
  return t;
}

std::string MakeDir(const std::string& config, const std::map<std::string, Pt>& tensors) {
  const std::string dir = TempDir();
  WriteText(dir + "/config.json", config);
  WriteTensors(dir + "/model.safetensors", tensors);
  return dir;
}

Result<ModelSource> Load(const std::string& dir) { return LoadHfModelFiles(dir, LoadOptions{}); }

void ExpectError(const Result<ModelSource>& r, const std::string& fragment) {
  ASSERT_FALSE(r.ok()) << "expected an error containing: " << fragment;
  EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().message();
}

TEST(HfNamesTest, MapsEveryLlamaTensor) {
  const std::map<std::string, std::string> expected = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
      {"model.layers.0.input_layernorm.weight", "blk.0.attn_norm.weight"},
      {"model.layers.12.self_attn.q_proj.weight", "blk.12.attn_q.weight"},
      {"model.layers.3.self_attn.q_proj.bias", "blk.3.attn_q.bias"},
      {"model.layers.3.self_attn.k_proj.weight", "blk.3.attn_k.weight"},
      {"model.layers.3.self_attn.k_proj.bias", "blk.3.attn_k.bias"},
      {"model.layers.3.self_attn.v_proj.weight", "blk.3.attn_v.weight"},
      {"model.layers.3.self_attn.v_proj.bias", "blk.3.attn_v.bias"},
      {"model.layers.3.self_attn.o_proj.weight", "blk.3.attn_output.weight"},
      {"model.layers.3.self_attn.o_proj.bias", "blk.3.attn_output.bias"},
      {"model.layers.3.post_attention_layernorm.weight", "blk.3.ffn_norm.weight"},
      {"model.layers.3.mlp.gate_proj.weight", "blk.3.ffn_gate.weight"},
      {"model.layers.3.mlp.up_proj.weight", "blk.3.ffn_up.weight"},
      {"model.layers.3.mlp.down_proj.weight", "blk.3.ffn_down.weight"},
      {"model.layers.31.self_attn.qkv_proj.weight", "blk.31.attn_qkv.weight"},
      {"model.layers.31.mlp.gate_up_proj.weight", "blk.31.ffn_up.weight"},
  };
  for (const auto& [hf, gguf] : expected) {
    const HfNameMapping m = HfToGgufName(hf);
    EXPECT_EQ(m.kind, HfNameKind::kMapped) << hf;
    EXPECT_EQ(m.gguf_name, gguf) << hf;
    if (hf.find("gate_up_proj") == std::string::npos) {
      EXPECT_EQ(GgufToHfName(gguf, "llama"), hf);
    }
  }
  EXPECT_EQ(GgufToHfName("blk.31.ffn_up.weight", "phi3"), "model.layers.31.mlp.gate_up_proj.weight");
  EXPECT_EQ(GgufToHfName("blk.31.attn_qkv.weight", "phi3"), "model.layers.31.self_attn.qkv_proj.weight");
  EXPECT_EQ(HfToGgufName("model.layers.0.self_attn.rotary_emb.inv_freq").kind, HfNameKind::kIgnored);
  for (const char* bad : {"model.layers.01.input_layernorm.weight", "model.layers..input_layernorm.weight",
                          "model.layers.-1.input_layernorm.weight", "model.layers.0", "model.layers.99999999.mlp.up_proj.weight",
                          "model.layers.0.mlp.up_proj.weight.extra", "vision_tower.blocks.0.weight", "", "lm_head"}) {
    EXPECT_EQ(HfToGgufName(bad).kind, HfNameKind::kUnknown) << bad;
  }
  EXPECT_EQ(GgufToHfName("blk.0.unknown.weight", "llama"), "");
  EXPECT_EQ(GgufToHfName("rope_freqs.weight", "llama"), "");
}

TEST(HfDirLoadTest, ReadsShardedPyTorchFixture) {
  auto src = Load(kFixture);
  ASSERT_TRUE(src.ok()) << src.status().message();
  EXPECT_EQ(src->format, ModelFormat::kHfDir);
  EXPECT_EQ(src->config.arch, "llama");
  EXPECT_TRUE(src->config.rope_neox);
  EXPECT_FALSE(src->vocab.has_value());
  EXPECT_EQ(src->tensors.size(), 3u + 2 * 9);  // inv_freq is not a weight
  EXPECT_FALSE(src->tensors.count("blk.0.rotary_emb.inv_freq"));

  std::ifstream in(kFixture + "/probes.json");
  const auto probes = nlohmann::json::parse(in);
  for (const auto& [hf_name, probe] : probes.items()) {
    SCOPED_TRACE(hf_name);
    const std::string gguf = HfToGgufName(hf_name).gguf_name;
    ASSERT_TRUE(src->tensors.count(gguf));
    const TensorView& v = src->tensors.at(gguf);
    EXPECT_EQ(v.type, DType::kBF16);
    const auto shape = probe["shape"].get<std::vector<int64_t>>();
    ASSERT_EQ(v.n_dims, static_cast<int>(shape.size()));
    for (size_t i = 0; i < shape.size(); ++i) EXPECT_EQ(v.ne[i], shape[shape.size() - 1 - i]);
    const auto* data = static_cast<const uint16_t*>(v.data);
    if (shape.size() == 1) {
      for (int64_t j = 0; j < shape[0]; ++j) EXPECT_EQ(Bf16ToFp32(data[j]), probe["values"][j].get<float>());
      continue;
    }
    // PyTorch [out][in] is ggml row `out`, column `in`.
    for (int64_t r = 0; r < shape[0]; ++r) {
      for (int64_t c = 0; c < shape[1]; ++c) {
        EXPECT_EQ(Bf16ToFp32(data[r * v.ne[0] + c]), probe["values"][r][c].get<float>()) << r << "," << c;
      }
    }
  }
}

TEST(HfDirLoadTest, SingleFileViewsPointIntoTheMapping) {
  const auto tensors = TinyLlamaTensors();
  auto src = Load(MakeDir(TinyConfig("llama"), tensors));
  ASSERT_TRUE(src.ok()) << src.status().message();
  EXPECT_EQ(src->tensors.size(), tensors.size());
  const TensorView& q = src->tensors.at("blk.0.attn_q.weight");
  EXPECT_EQ(q.ne[0], 8);
  EXPECT_EQ(q.ne[1], 8);
  EXPECT_EQ(std::memcmp(q.data, tensors.at("model.layers.0.self_attn.q_proj.weight").values.data(), q.bytes()), 0);
  const TensorView& down = src->tensors.at("blk.0.ffn_down.weight");
  EXPECT_EQ(down.ne[0], 4);  // PyTorch [8, 4]: in = 4
  EXPECT_EQ(down.ne[1], 8);
  EXPECT_FALSE(src->keep_alive.empty());
}

TEST(HfDirLoadTest, Qwen2BiasesAndTiedHead) {
  auto tensors = TinyLlamaTensors(/*with_head=*/false);
  tensors["model.layers.0.self_attn.q_proj.bias"] = Filled({8}, 20);
  tensors["model.layers.0.self_attn.k_proj.bias"] = Filled({4}, 21);
  tensors["model.layers.0.self_attn.v_proj.bias"] = Filled({4}, 22);
  auto src = Load(MakeDir(TinyConfig("qwen2", R"(, "tie_word_embeddings": true)"), tensors));
  ASSERT_TRUE(src.ok()) << src.status().message();
  EXPECT_TRUE(src->config.qkv_bias);
  EXPECT_TRUE(src->config.tied_embeddings);
  EXPECT_FALSE(src->tensors.count("output.weight"));
  EXPECT_EQ(src->tensors.at("blk.0.attn_k.bias").ne[0], 4);
}

TEST(HfDirLoadTest, TiedConfigDropsAStoredHead) {
  auto src = Load(MakeDir(TinyConfig("llama", R"(, "tie_word_embeddings": true)"), TinyLlamaTensors()));
  ASSERT_TRUE(src.ok()) << src.status().message();
  EXPECT_FALSE(src->tensors.count("output.weight"));
}

TEST(HfDirLoadTest, GemmaNormsGetTheirOffset) {
  const auto tensors = TinyLlamaTensors(/*with_head=*/false);
  auto src = Load(MakeDir(TinyConfig("gemma", R"(, "head_dim": 4)"), tensors));
  ASSERT_TRUE(src.ok()) << src.status().message();
  for (const auto& [gguf, hf] : std::map<std::string, std::string>{
           {"blk.0.attn_norm.weight", "model.layers.0.input_layernorm.weight"},
           {"blk.0.ffn_norm.weight", "model.layers.0.post_attention_layernorm.weight"},
           {"output_norm.weight", "model.norm.weight"}}) {
    const TensorView& v = src->tensors.at(gguf);
    ASSERT_EQ(v.type, DType::kF32);
    for (int i = 0; i < 8; ++i) EXPECT_EQ(v.f32()[i], tensors.at(hf).values[i] + 1.0f) << gguf;
  }
}

TEST(HfDirLoadTest, Phi3FusedTensorsKeepLlamaCppNames) {
  std::map<std::string, Pt> t = TinyLlamaTensors();
  for (const char* n : {"model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
                        "model.layers.0.self_attn.v_proj.weight", "model.layers.0.mlp.gate_proj.weight",
                        "model.layers.0.mlp.up_proj.weight"}) {
    t.erase(n);
  }
  t["model.layers.0.self_attn.qkv_proj.weight"] = Filled({16, 8}, 30);
  t["model.layers.0.mlp.gate_up_proj.weight"] = Filled({8, 8}, 31);
  auto src = Load(MakeDir(TinyConfig("phi3"), t));
  ASSERT_TRUE(src.ok()) << src.status().message();
  EXPECT_EQ(src->tensors.at("blk.0.attn_qkv.weight").ne[1], 16);
  EXPECT_EQ(src->tensors.at("blk.0.ffn_up.weight").ne[1], 8);
  EXPECT_FALSE(src->tensors.count("blk.0.ffn_gate.weight"));
}

TEST(HfDirLoadTest, UnknownTensorsAreSkipped) {
  auto t = TinyLlamaTensors();
  t["model.vision_tower.proj.weight"] = Filled({2, 2}, 40);
  auto src = Load(MakeDir(TinyConfig("llama"), t));
  ASSERT_TRUE(src.ok()) << src.status().message();
  EXPECT_EQ(src->tensors.size(), t.size() - 1);
}

TEST(HfDirLoadTest, RejectsBadDirectories) {
  ExpectError(Load("/nonexistent/model"), "/nonexistent/model/config.json");

  std::string dir = TempDir();
  WriteText(dir + "/config.json", TinyConfig("llama"));
  ExpectError(Load(dir), "no model.safetensors or model.safetensors.index.json");
  WriteText(dir + "/pytorch_model.bin", "x");
  ExpectError(Load(dir), "pytorch_model.bin checkpoints are not read");

  ExpectError(Load(MakeDir(TinyConfig("gpt2"), TinyLlamaTensors())), "config.json: key 'model_type' 'gpt2'");
  ExpectError(Load(MakeDir(TinyConfig("llama"), TinyLlamaTensors(false))), "no lm_head.weight");

  auto two_ups = TinyLlamaTensors();
  two_ups["model.layers.0.mlp.gate_up_proj.weight"] = Filled({8, 8}, 1);
  ExpectError(Load(MakeDir(TinyConfig("llama"), two_ups)), "both map to blk.0.ffn_up.weight");

  dir = MakeDir(TinyConfig("llama"), TinyLlamaTensors());
  WriteText(dir + "/model.safetensors", "garbage!!");
  ExpectError(Load(dir), "model.safetensors: header length");

  // A tensor the model needs, in a dtype leanlm cannot compute with.
  dir = MakeDir(TinyConfig("llama"), TinyLlamaTensors());
  const std::string header = R"({"model.norm.weight":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}})";
  std::string image(8, '\0');
  image[0] = static_cast<char>(header.size());
  WriteText(dir + "/model.safetensors", image + header + std::string(8, '\0'));
  ExpectError(Load(dir), "unsupported dtype U8 for tensor 'model.norm.weight'");
}

// Writes the tiny model as two shards plus an index with `weight_map`.
std::string ShardedDir(const std::string& weight_map) {
  const std::string dir = TempDir();
  WriteText(dir + "/config.json", TinyConfig("llama"));
  auto all = TinyLlamaTensors();
  std::map<std::string, Pt> a, b;
  for (auto& [name, t] : all) (name.find("layers") != std::string::npos ? a : b)[name] = t;
  WriteTensors(dir + "/a.safetensors", a);
  WriteTensors(dir + "/b.safetensors", b);
  WriteText(dir + "/model.safetensors.index.json", R"({"metadata": {}, "weight_map": )" + weight_map + "}");
  return dir;
}

std::string FullWeightMap() {
  std::string m = "{";
  for (const auto& [name, t] : TinyLlamaTensors()) {
    m += (m.size() > 1 ? ", \"" : "\"") + name + "\": \"" +
         (name.find("layers") != std::string::npos ? "a" : "b") + ".safetensors\"";
  }
  return m + "}";
}

TEST(HfDirLoadTest, ShardIndex) {
  auto ok = Load(ShardedDir(FullWeightMap()));
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->tensors.size(), TinyLlamaTensors().size());
  EXPECT_EQ(ok->keep_alive.size(), 2u);

  std::string m = FullWeightMap();
  ExpectError(Load(ShardedDir("[]")), "key 'weight_map' must be an object");
  ExpectError(Load(ShardedDir("{}")), "key 'weight_map' is empty");
  ExpectError(Load(ShardedDir(R"({"lm_head.weight": "../b.safetensors"})")), "must name a .safetensors file");
  ExpectError(Load(ShardedDir(R"({"lm_head.weight": "/etc/passwd"})")), "must name a .safetensors file");
  ExpectError(Load(ShardedDir(R"({"lm_head.weight": 3})")), "must name a .safetensors file");
  ExpectError(Load(ShardedDir(R"({"lm_head.weight": "c.safetensors"})")), "c.safetensors");
  // Listed in the wrong shard: the shard it names does not hold it.
  std::string wrong = m;
  wrong.replace(wrong.find("\"lm_head.weight\": \"b"), 20, "\"lm_head.weight\": \"a");
  ExpectError(Load(ShardedDir(wrong)), "tensor 'lm_head.weight' is listed in a.safetensors, which does not hold it");
  // Not listed at all: skipped, so the head is missing.
  std::string unlisted = m;
  unlisted.replace(unlisted.find("\"lm_head.weight\": \"b.safetensors\", "), 35, "");
  ExpectError(Load(ShardedDir(unlisted)), "no lm_head.weight");
  ExpectError(Load(ShardedDir(R"({"a": "b.safetensors", "a": "b.safetensors"})")), "duplicate key 'a'");
}

// --- with the tokenizer -----------------------------------------------------

std::string SharedData() {
  const auto p = std::filesystem::path(LEANLM_SOURCE_DIR) / ".." / "shared" / "data";
  return std::filesystem::exists(p) ? p.lexically_normal().string() : "";
}

// The tiny fixture's model files in a fresh directory, with the given
// tokenizer files linked in (read-only data is never copied).
std::string FixtureWithTokenizer(const std::string& tokenizer_json, const std::string& tokenizer_config) {
  const std::string dir = TempDir();
  for (const auto& entry : std::filesystem::directory_iterator(kFixture)) {
    std::filesystem::create_symlink(entry.path(), dir + "/" + entry.path().filename().string());
  }
  if (!tokenizer_json.empty()) std::filesystem::create_symlink(tokenizer_json, dir + "/tokenizer.json");
  if (!tokenizer_config.empty()) std::filesystem::create_symlink(tokenizer_config, dir + "/tokenizer_config.json");
  return dir;
}

TEST(HfDirTokenizerTest, LoadsTokenizerJsonBesideTheWeights) {
  const std::string data = SharedData();
  if (data.empty()) GTEST_SKIP() << "../shared/data is absent: skipping the tokenizer.json test";
  const std::string dir = FixtureWithTokenizer(data + "/tokenizers/llama3_tokenizer.json",
                                               data + "/tokenizers/llama3_tokenizer_config.json");
  auto src = LoadHfDir(dir, LoadOptions{});
  ASSERT_TRUE(src.ok()) << src.status().message();
  ASSERT_TRUE(src->vocab.has_value());
  EXPECT_EQ(src->vocab->model, "gpt2");
  EXPECT_EQ(src->vocab->tokens.size(), 128256u);
  EXPECT_EQ(src->vocab->tokens[128000], "<|begin_of_text|>");
  EXPECT_EQ(src->vocab->bos_id, 128000);
  EXPECT_FALSE(src->vocab->chat_template.empty());  // from tokenizer_config.json
  EXPECT_EQ(src->tensors.size(), 3u + 2 * 9);

  // An override path is read as a tokenizer.json.
  LoadOptions options;
  options.tokenizer_path = dir + "/tokenizer.json";
  auto overridden = LoadHfDir(FixtureWithTokenizer("", ""), options);
  ASSERT_TRUE(overridden.ok()) << overridden.status().message();
  EXPECT_EQ(overridden->vocab->tokens.size(), 128256u);
}

TEST(HfDirTokenizerTest, DirectoryWithoutTokenizerLoadsWithoutVocabulary) {
  auto src = LoadHfDir(FixtureWithTokenizer("", ""), LoadOptions{});
  ASSERT_TRUE(src.ok()) << src.status().message();
  EXPECT_FALSE(src->vocab.has_value());
  LoadOptions options;
  options.tokenizer_path = "/nonexistent/tokenizer.json";
  EXPECT_FALSE(LoadHfDir(FixtureWithTokenizer("", ""), options).ok());
}

TEST(HfDirTokenizerTest, BrokenTokenizerJsonIsAnError) {
  const std::string dir = FixtureWithTokenizer("", "");
  WriteText(dir + "/tokenizer.json", "{\"model\": ");
  auto src = LoadHfDir(dir, LoadOptions{});
  ASSERT_FALSE(src.ok());
  EXPECT_NE(src.status().message().find("tokenizer.json"), std::string::npos) << src.status().message();
}

TEST(HfDirTokenizerTest, SaveWritesTheVocabularyBack) {
  const std::string data = SharedData();
  if (data.empty()) GTEST_SKIP() << "../shared/data is absent: skipping the tokenizer round trip";
  auto src = LoadHfDir(FixtureWithTokenizer(data + "/tokenizers/llama3_tokenizer.json",
                                            data + "/tokenizers/llama3_tokenizer_config.json"),
                       LoadOptions{});
  ASSERT_TRUE(src.ok()) << src.status().message();
  const std::string out = TempDir() + "/exported";
  const Status saved = SaveHfDir(src.value(), out);
  ASSERT_TRUE(saved.ok()) << saved.message();
  auto back = LoadHfDir(out, LoadOptions{});
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_TRUE(back->vocab.has_value());
  EXPECT_EQ(back->vocab->tokens, src->vocab->tokens);
  EXPECT_EQ(back->vocab->merges, src->vocab->merges);
  EXPECT_EQ(back->vocab->bos_id, src->vocab->bos_id);
  const auto config = nlohmann::json::parse(ReadText(out + "/config.json"));
  EXPECT_EQ(config["bos_token_id"], src->vocab->bos_id);
  EXPECT_EQ(config["torch_dtype"], "bfloat16");
  // The weights are the fixture's, byte for byte (already in HF's layout).
  for (const auto& [name, v] : src->tensors) {
    ASSERT_TRUE(back->tensors.count(name)) << name;
    EXPECT_EQ(std::memcmp(back->tensors.at(name).data, v.data, v.bytes()), 0) << name;
  }
}

// --- export ---------------------------------------------------------------

// A GGUF-style llama (interleaved RoPE rows) built from the tiny HF tensors.
ModelSource GgufStyleSource(const std::map<std::string, Pt>& tensors, bool tied) {
  ModelSource src;
  auto config = ConfigFromHfJson(TinyConfig("llama"), "config.json");
  EXPECT_TRUE(config.ok());
  src.config = config.value();
  src.config.rope_neox = false;
  src.config.tied_embeddings = tied;
  for (const auto& [hf, t] : tensors) src.tensors[HfToGgufName(hf).gguf_name] = ViewOf(t);
  return src;
}

TEST(HfDirSaveTest, WritesHfNamesShapesAndHfRopeLayout) {
  const auto tensors = TinyLlamaTensors();
  const ModelSource src = GgufStyleSource(tensors, /*tied=*/false);
  const std::string dir = TempDir() + "/out";
  ASSERT_TRUE(SaveHfModelFiles(src, dir).ok());

  auto file = OpenSafetensors(dir + "/model.safetensors");
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(file->metadata().at("format"), "pt");
  ASSERT_EQ(file->tensors().size(), tensors.size());
  for (const auto& [hf, t] : tensors) {
    SCOPED_TRACE(hf);
    const SafetensorsTensor* out = file->Find(hf);
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(out->dtype, "F32");
    EXPECT_EQ(out->shape, t.shape);
    const bool is_q = hf.find("q_proj") != std::string::npos, is_k = hf.find("k_proj") != std::string::npos;
    const auto* values = reinterpret_cast<const float*>(out->data);
    const int64_t cols = t.shape.size() == 2 ? t.shape[1] : 1;
    for (int64_t r = 0; r < t.shape[0]; ++r) {
      // Q has 2 heads of 4 rows, K 1 head of 4; other tensors are copied as they are.
      const int64_t from = (is_q || is_k) ? RopeSourceRow(r, 4, RopeLayout::kHalves) : r;
      for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(values[r * cols + c], t.values[from * cols + c]) << r;
    }
  }

  const auto config = nlohmann::json::parse(ReadText(dir + "/config.json"));
  EXPECT_EQ(config["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(config["torch_dtype"], "float32");
  EXPECT_EQ(config["num_key_value_heads"], 1);
  EXPECT_EQ(config["tie_word_embeddings"], false);

  // Reading it back gives HF's layout; permuting Q/K back restores the original bytes.
  auto back = Load(dir);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(back->config.rope_neox);
  for (const auto& [name, v] : src.tensors) {
    const TensorView& w = back->tensors.at(name);
    ASSERT_EQ(w.bytes(), v.bytes()) << name;
    std::vector<uint8_t> restored(w.bytes());
    const bool is_q = name == "blk.0.attn_q.weight", is_k = name == "blk.0.attn_k.weight";
    if (is_q || is_k) {
      ASSERT_TRUE(PermuteRopeRows(w, is_q ? 2 : 1, RopeLayout::kInterleaved, restored.data()).ok());
    } else {
      std::memcpy(restored.data(), w.data, w.bytes());
    }
    EXPECT_EQ(std::memcmp(restored.data(), v.data, v.bytes()), 0) << name;
  }
}

TEST(HfDirSaveTest, HfLayoutIsWrittenAsIsAndTiedHeadIsOmitted) {
  const auto tensors = TinyLlamaTensors();
  ModelSource src = GgufStyleSource(tensors, /*tied=*/true);
  src.config.rope_neox = true;
  const std::string dir = TempDir();
  ASSERT_TRUE(SaveHfModelFiles(src, dir).ok());
  auto file = OpenSafetensors(dir + "/model.safetensors");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->Find("lm_head.weight"), nullptr);
  const SafetensorsTensor* q = file->Find("model.layers.0.self_attn.q_proj.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(std::memcmp(q->data, tensors.at("model.layers.0.self_attn.q_proj.weight").values.data(), q->bytes), 0);
  EXPECT_NE(ReadText(dir + "/config.json").find("\"tie_word_embeddings\": true"), std::string::npos);
  auto back = Load(dir);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(back->config.tied_embeddings);
}

TEST(HfDirSaveTest, PermutesQkBiases) {
  auto tensors = TinyLlamaTensors(false);
  tensors["model.layers.0.self_attn.q_proj.bias"] = Filled({8}, 20);
  tensors["model.layers.0.self_attn.k_proj.bias"] = Filled({4}, 21);
  tensors["model.layers.0.self_attn.v_proj.bias"] = Filled({4}, 22);
  ModelSource src = GgufStyleSource(tensors, /*tied=*/true);
  src.config.qkv_bias = true;
  const std::string dir = TempDir();
  ASSERT_TRUE(SaveHfModelFiles(src, dir).ok());
  auto file = OpenSafetensors(dir + "/model.safetensors");
  ASSERT_TRUE(file.ok());
  const auto* qb = reinterpret_cast<const float*>(file->Find("model.layers.0.self_attn.q_proj.bias")->data);
  const auto* vb = reinterpret_cast<const float*>(file->Find("model.layers.0.self_attn.v_proj.bias")->data);
  for (int r = 0; r < 8; ++r) {
    EXPECT_EQ(qb[r], tensors["model.layers.0.self_attn.q_proj.bias"].values[RopeSourceRow(r, 4, RopeLayout::kHalves)]);
  }
  for (int r = 0; r < 4; ++r) EXPECT_EQ(vb[r], tensors["model.layers.0.self_attn.v_proj.bias"].values[r]);
}

TEST(HfDirSaveTest, GemmaNormsRoundTrip) {
  auto tensors = TinyLlamaTensors(false);
  for (float& v : tensors["model.norm.weight"].values) v = 0.25f * std::round(v * 4);  // exact in float after +-1
  auto loaded = Load(MakeDir(TinyConfig("gemma", R"(, "head_dim": 4)"), tensors));
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const std::string dir = TempDir();
  ASSERT_TRUE(SaveHfModelFiles(loaded.value(), dir).ok());
  auto file = OpenSafetensors(dir + "/model.safetensors");
  ASSERT_TRUE(file.ok());
  const auto* norm = reinterpret_cast<const float*>(file->Find("model.norm.weight")->data);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(norm[i], tensors["model.norm.weight"].values[i]);
  EXPECT_NE(ReadText(dir + "/config.json").find("\"hidden_activation\": \"gelu_pytorch_tanh\""), std::string::npos);
}

TEST(HfDirSaveTest, Phi3SeparateProjectionsAreFused) {
  auto tensors = TinyLlamaTensors();
  ModelSource src = GgufStyleSource(tensors, false);
  src.config.arch = "phi3";
  src.config.rope_neox = true;
  const std::string dir = TempDir();
  const Status s = SaveHfModelFiles(src, dir);
  ASSERT_TRUE(s.ok()) << s.message();
  auto file = OpenSafetensors(dir + "/model.safetensors");
  ASSERT_TRUE(file.ok());
  const SafetensorsTensor* qkv = file->Find("model.layers.0.self_attn.qkv_proj.weight");
  ASSERT_NE(qkv, nullptr);
  EXPECT_EQ(qkv->shape, (std::vector<int64_t>{16, 8}));
  const auto* rows = reinterpret_cast<const float*>(qkv->data);
  EXPECT_EQ(rows[8 * 8], tensors["model.layers.0.self_attn.k_proj.weight"].values[0]);   // K starts at row 8
  EXPECT_EQ(rows[12 * 8], tensors["model.layers.0.self_attn.v_proj.weight"].values[0]);  // V at row 12
  const SafetensorsTensor* gate_up = file->Find("model.layers.0.mlp.gate_up_proj.weight");
  ASSERT_NE(gate_up, nullptr);
  EXPECT_EQ(gate_up->shape, (std::vector<int64_t>{8, 8}));
  EXPECT_EQ(reinterpret_cast<const float*>(gate_up->data)[0], tensors["model.layers.0.mlp.gate_proj.weight"].values[0]);
  EXPECT_EQ(reinterpret_cast<const float*>(gate_up->data)[32], tensors["model.layers.0.mlp.up_proj.weight"].values[0]);
  EXPECT_EQ(file->Find("model.layers.0.mlp.up_proj.weight"), nullptr);
  auto back = Load(dir);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->config.arch, "phi3");
}

TEST(HfDirSaveTest, RefusesWhatHfCannotHold) {
  const auto tensors = TinyLlamaTensors();
  std::vector<uint8_t> blocks(18 * 2);
  ModelSource quantized = GgufStyleSource(tensors, false);
  TensorView q4;
  q4.data = blocks.data();
  q4.type = DType::kQ4_0;
  q4.n_dims = 2;
  q4.ne = {32, 2, 1, 1};
  quantized.tensors["blk.0.ffn_up.weight"] = q4;
  Status s = SaveHfModelFiles(quantized, TempDir());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("dequantize first"), std::string::npos) << s.message();

  ModelSource extra = GgufStyleSource(tensors, false);
  extra.tensors["rope_freqs.weight"] = ViewOf(tensors.at("model.norm.weight"));
  s = SaveHfModelFiles(extra, TempDir());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("rope_freqs.weight has no Hugging Face name"), std::string::npos) << s.message();

  ModelSource qwen = GgufStyleSource(tensors, false);
  qwen.config.arch = "qwen2";
  s = SaveHfModelFiles(qwen, TempDir());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("qkv_bias"), std::string::npos) << s.message();

  ModelSource bad_heads = GgufStyleSource(tensors, false);
  bad_heads.config.n_head = 3;
  EXPECT_FALSE(SaveHfModelFiles(bad_heads, TempDir()).ok());

  EXPECT_FALSE(SaveHfModelFiles(GgufStyleSource(tensors, false), "/nonexistent/dir/out").ok());
}

}  // namespace
}  // namespace leanlm
