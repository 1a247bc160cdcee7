// QuantizeModel against llama.cpp: the type of every tensor is the one
// llama-quantize (b4747) wrote for the same model and recipe (the tables
// below were taken from its output), the bytes of every converted tensor are
// the registry's reference quantizer applied to the input rows (the formats
// are proven byte-exact with ggml by golden_test), the result loads and
// generates, and more bits give smaller weight errors.
#include "quant/quantize_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "base/thread_pool.h"
#include "io/convert.h"
#include "io/gguf.h"
#include "io/gguf_test_util.h"
#include "quant/registry.h"
#include "runtime/init_model.h"
#include "runtime/model.h"
#include "runtime/session.h"

namespace leanlm {
namespace {

using testing_util::Bytes;
using testing_util::TempDir;

// Expected types by tensor kind ("attn_v" for blk.N.attn_v.weight); a comma
// list gives one type per layer. Norms are checked separately (never quantized).
using TypeTable = std::map<std::string, std::string>;

TypeTable ParseTable(const std::string& spec) {
  TypeTable t;
  std::istringstream in(spec);
  std::string item;
  while (in >> item) {
    const size_t eq = item.find('=');
    t[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return t;
}

// A table where every matrix gets `type` except those listed in `rest`.
std::string Uniform(const std::string& type, const std::string& rest = "") {
  TypeTable t =
      ParseTable("token_embd=" + type + " output=" + type + " attn_q=" + type + " attn_k=" + type + " attn_v=" + type +
                 " attn_output=" + type + " ffn_gate=" + type + " ffn_up=" + type + " ffn_down=" + type);
  for (const auto& [k, v] : ParseTable(rest)) t[k] = v;
  std::string s;
  for (const auto& [k, v] : t) s += k + "=" + v + " ";
  return s;
}

std::string Kind(const std::string& name, int* layer) {
  std::string n = name.substr(0, name.size() - std::strlen(".weight"));
  *layer = -1;
  if (n.rfind("blk.", 0) == 0) {
    const size_t dot = n.find('.', 4);
    *layer = std::stoi(n.substr(4, dot - 4));
    n = n.substr(dot + 1);
  }
  return n;
}

std::string ExpectedType(const TypeTable& table, const std::string& name) {
  int layer = -1;
  const std::string kind = Kind(name, &layer);
  auto it = table.find(kind);
  if (it == table.end()) return "?";
  std::vector<std::string> per_layer;
  std::stringstream ss(it->second);
  for (std::string t; std::getline(ss, t, ',');) per_layer.push_back(t);
  if (per_layer.size() == 1 || layer < 0) return per_layer[0];
  return layer < static_cast<int>(per_layer.size()) ? per_layer[layer] : "?";
}

std::unique_ptr<GgufFile> Open(const std::string& path) {
  auto g = GgufFile::Open(path);
  EXPECT_TRUE(g.ok()) << g.status().message();
  return g.ok() ? std::move(g).value() : nullptr;
}

// Every tensor's type follows the table, and its bytes are the reference
// quantizer of the input rows (or the input bytes when kept).
void ExpectTypesAndBytes(const GgufFile& in, const GgufFile& out, const TypeTable& table, const std::string& what) {
  ASSERT_EQ(in.tensors().size(), out.tensors().size()) << what;
  for (const GgufTensorInfo& o : out.tensors()) {
    SCOPED_TRACE(what + ": " + o.name);
    const GgufTensorInfo* i = in.FindTensor(o.name);
    ASSERT_NE(i, nullptr);
    ASSERT_EQ(i->view.ne, o.view.ne);
    const bool is_norm = o.name.find("_norm.weight") != std::string::npos;
    EXPECT_EQ(TypeName(o.view.type), is_norm ? std::string(TypeName(i->view.type)) : ExpectedType(table, o.name));
    if (o.view.type == i->view.type) {
      EXPECT_EQ(std::memcmp(o.view.data, i->view.data, o.view.bytes()), 0);
      continue;
    }
    const TypeTraits& from = GetTypeTraits(i->view.type);
    const TypeTraits& to = GetTypeTraits(o.view.type);
    const int64_t ne0 = o.view.ne[0];
    std::vector<float> row(static_cast<size_t>(ne0));
    std::vector<uint8_t> expected(o.view.row_bytes());
    int64_t mismatched = 0;
    for (int64_t r = 0; r < o.view.rows(); ++r) {
      from.to_float(i->view.row(r), row.data(), ne0);
      to.from_float(row.data(), expected.data(), ne0);
      mismatched += std::memcmp(expected.data(), o.view.row(r), expected.size()) != 0;
    }
    EXPECT_EQ(mismatched, 0) << "rows differ from the reference quantizer";
  }
}

void ExpectLlamaMetadata(const GgufFile& in, const GgufFile& out, uint32_t file_type) {
  EXPECT_EQ(out.GetInt("general.file_type").value(), file_type);
  EXPECT_EQ(out.GetInt("general.quantization_version").value(), 2);
  // Everything else is copied, in order; the two keys come last as llama.cpp writes them.
  std::vector<std::string> keys_in, keys_out;
  for (const auto& [k, v] : in.metadata()) {
    if (k != "general.file_type" && k != "general.quantization_version") keys_in.push_back(k);
  }
  for (const auto& [k, v] : out.metadata()) keys_out.push_back(k);
  keys_in.push_back("general.quantization_version");
  keys_in.push_back("general.file_type");
  EXPECT_EQ(keys_in, keys_out);
  EXPECT_EQ(in.GetStringArray("tokenizer.ggml.tokens").value(), out.GetStringArray("tokenizer.ggml.tokens").value());
}

// Greedy tokens from BOS.
std::vector<int32_t> Greedy(const std::string& path, int64_t n) {
  auto model = Model::Load(path);
  EXPECT_TRUE(model.ok()) << model.status().message();
  if (!model.ok()) return {};
  ThreadPool pool(2);
  Session session(**model, pool);
  EXPECT_TRUE(session.Feed({(*model)->tokenizer().bos()}).ok());
  GenerateOptions options;
  options.n_predict = n;
  options.sampler.temperature = 0;
  options.stop_at_end = false;
  std::vector<int32_t> out;
  auto stats = session.Generate(
      options, [](std::string_view) {}, &out);
  EXPECT_TRUE(stats.ok()) << stats.status().message();
  return out;
}

// Sum of squared errors of the dequantized matrices over their sum of squares.
double RelativeError(const GgufFile& in, const GgufFile& out) {
  double err = 0, norm = 0;
  for (const GgufTensorInfo& o : out.tensors()) {
    if (o.view.n_dims < 2) continue;
    const GgufTensorInfo* i = in.FindTensor(o.name);
    const int64_t ne0 = o.view.ne[0];
    std::vector<float> a(static_cast<size_t>(ne0)), b(static_cast<size_t>(ne0));
    for (int64_t r = 0; r < o.view.rows(); ++r) {
      GetTypeTraits(i->view.type).to_float(i->view.row(r), a.data(), ne0);
      GetTypeTraits(o.view.type).to_float(o.view.row(r), b.data(), ne0);
      for (int64_t k = 0; k < ne0; ++k) {
        err += (a[k] - b[k]) * double{a[k] - b[k]};
        norm += a[k] * double{a[k]};
      }
    }
  }
  return err / norm;
}

Status Quantize(const std::string& in, const std::string& out, const std::string& recipe,
                QuantizeReport* report = nullptr, std::vector<std::string> overrides = {}, bool keep_output = false) {
  QuantizeOptions o;
  o.recipe = recipe;
  o.tensor_types = std::move(overrides);
  o.keep_output = keep_output;
  o.n_threads = 2;
  return QuantizeModel(in, out, o, report);
}

std::string WriteModel(const ModelConfig& config, const std::string& path) {
  InitOptions o;
  o.type = DType::kF32;
  o.seed = 7;
  Status st = WriteRandomModel(config, o, path);
  EXPECT_TRUE(st.ok()) << st.message();
  return path;
}

ModelConfig Tiny() { return FindModelPreset("tiny")->config; }

// 256-wide rows, so the K-quants apply without fallback; 8 layers, so the
// first-eighth and use_more_bits rules pick distinct layers; 4 query heads
// per KV head, so the GQA rules fire.
ModelConfig K256() {
  ModelConfig c = Tiny();
  c.n_embd = 256;
  c.n_head = 4;
  c.n_head_kv = 1;
  c.head_dim = 64;
  c.n_ff = 256;
  c.n_layer = 8;
  return c;
}

struct Case {
  std::string recipe;
  uint32_t file_type;
  std::string table;
};

// llama-quantize's types for `leanlm init --preset tiny --type f32` (rows of
// 64, ffn_down rows of 160: every K-quant falls back).
const std::vector<Case>& TinyCases() {
  static const std::vector<Case> cases = {
      {"F32", 0, Uniform("f32")},
      {"F16", 1, Uniform("f16")},
      {"BF16", 32, Uniform("bf16")},
      {"Q4_0", 2, Uniform("q4_0", "output=q8_0")},
      {"Q4_1", 3, Uniform("q4_1", "output=q8_0")},
      {"Q5_0", 8, Uniform("q5_0", "output=q8_0")},
      {"Q5_1", 9, Uniform("q5_1", "output=q8_0")},
      {"Q8_0", 7, Uniform("q8_0")},
      {"Q2_K", 10, Uniform("iq4_nl", "output=q8_0")},
      {"Q3_K_S", 11, Uniform("iq4_nl", "output=q8_0")},
      {"Q3_K_M", 12, Uniform("iq4_nl", "output=q8_0 attn_v=q5_1 attn_output=q5_0 ffn_down=q5_0")},
      {"Q3_K_L", 13, Uniform("iq4_nl", "output=q8_0 attn_v=q5_1 attn_output=q5_1 ffn_down=q5_1")},
      {"Q4_K_S", 14, Uniform("q5_0", "output=q8_0 attn_v=q5_1")},
      {"Q4_K_M", 15, Uniform("q5_0", "output=q8_0 attn_v=q5_0,q8_0 ffn_down=q5_0,q8_0")},
      {"Q5_K_S", 16, Uniform("q5_1", "output=q8_0")},
      {"Q5_K_M", 17, Uniform("q5_1", "output=q8_0 attn_v=q5_1,q8_0 ffn_down=q5_1,q8_0")},
      {"Q6_K", 18, Uniform("q8_0")},
      {"IQ4_NL", 25, Uniform("iq4_nl", "output=q8_0")},
      {"TQ1_0", 36, Uniform("q4_0", "output=q8_0 token_embd=q5_0")},
      {"TQ2_0", 37, Uniform("q4_0", "output=q8_0 token_embd=q5_0")},
      // leanlm's own recipes: every matrix, the family's 32-wide member where 64 or 128 do not divide.
      {"NF4", 200, Uniform("nf4", "ffn_down=iq4_nl")},
      {"FP4", 201, Uniform("fp4", "ffn_down=iq4_nl")},
      {"INT4_G32", 202, Uniform("int4_g32")},
      {"INT4_G64", 203, Uniform("int4_g64", "ffn_down=int4_g32")},
      {"INT4_G128", 204, Uniform("int4_g32")},
      {"INT8_G32", 205, Uniform("int8_g32")},
      {"INT8_G64", 206, Uniform("int8_g64", "ffn_down=int8_g32")},
      {"INT8_G128", 207, Uniform("int8_g32")},
  };
  return cases;
}

// llama-quantize's types for the K256 model.
const std::vector<Case>& K256Cases() {
  static const std::vector<Case> cases = {
      {"Q2_K", 10, Uniform("q2_K", "output=q6_K attn_v=q4_K attn_output=q3_K ffn_down=q3_K")},
      {"Q3_K_S", 11, Uniform("q3_K", "output=q6_K")},
      {"Q3_K_M", 12,
       Uniform("q3_K", "output=q6_K attn_v=q5_K,q5_K,q4_K,q4_K,q4_K,q4_K,q4_K,q4_K attn_output=q4_K ffn_down=q4_K")},
      {"Q3_K_L", 13, Uniform("q3_K", "output=q6_K attn_v=q5_K attn_output=q5_K ffn_down=q5_K")},
      {"Q4_K_S", 14,
       Uniform("q4_K",
               "output=q6_K attn_v=q5_K,q5_K,q5_K,q5_K,q4_K,q4_K,q4_K,q4_K "
               "ffn_down=q5_K,q4_K,q4_K,q4_K,q4_K,q4_K,q4_K,q4_K")},
      {"Q4_K_M", 15,
       Uniform("q4_K",
               "output=q6_K attn_v=q6_K,q4_K,q4_K,q6_K,q4_K,q4_K,q6_K,q6_K "
               "ffn_down=q6_K,q4_K,q4_K,q6_K,q4_K,q4_K,q6_K,q6_K")},
      {"Q5_K_S", 16, Uniform("q5_K", "output=q6_K")},
      {"Q5_K_M", 17,
       Uniform("q5_K",
               "output=q6_K attn_v=q6_K,q5_K,q5_K,q6_K,q5_K,q5_K,q6_K,q6_K "
               "ffn_down=q6_K,q5_K,q5_K,q6_K,q5_K,q5_K,q6_K,q6_K")},
      {"Q6_K", 18, Uniform("q6_K")},
      {"Q8_0", 7, Uniform("q8_0")},
      {"Q4_0", 2, Uniform("q4_0", "output=q6_K")},
      {"IQ4_NL", 25,
       Uniform("iq4_nl", "output=q6_K attn_v=q5_K ffn_down=q5_K,iq4_nl,iq4_nl,iq4_nl,iq4_nl,iq4_nl,iq4_nl,iq4_nl")},
      {"TQ1_0", 36, Uniform("tq1_0", "output=q6_K token_embd=q4_K")},
      {"TQ2_0", 37, Uniform("tq2_0", "output=q6_K token_embd=q4_K")},
      {"F16", 1, Uniform("f16")},
  };
  return cases;
}

// llama-quantize's types for stories260K (rows of 64; ffn_down rows of 172,
// which no block size divides). Where llama.cpp gives up on 172 ("Unsupported
// tensor size": Q4_0..Q8_0, IQ4_NL) leanlm falls back to F16 as llama.cpp's
// table does for the K-quants.
const std::vector<Case>& StoriesCases() {
  static const std::vector<Case> cases = {
      {"F32", 0, Uniform("f32")},
      {"F16", 1, Uniform("f16")},
      {"BF16", 32, Uniform("bf16")},
      {"Q4_0", 2, Uniform("q4_0", "output=q8_0 ffn_down=f16")},
      {"Q4_1", 3, Uniform("q4_1", "output=q8_0 ffn_down=f16")},
      {"Q5_0", 8, Uniform("q5_0", "output=q8_0 ffn_down=f16")},
      {"Q5_1", 9, Uniform("q5_1", "output=q8_0 ffn_down=f16")},
      {"Q8_0", 7, Uniform("q8_0", "ffn_down=f16")},
      {"Q2_K", 10, Uniform("iq4_nl", "output=q8_0 ffn_down=f16")},
      {"Q3_K_S", 11, Uniform("iq4_nl", "output=q8_0 ffn_down=f16")},
      {"Q3_K_M", 12, Uniform("iq4_nl", "output=q8_0 ffn_down=f16 attn_output=q5_0 attn_v=q5_1,q5_1,q5_0,q5_0,q5_0")},
      {"Q3_K_L", 13, Uniform("iq4_nl", "output=q8_0 ffn_down=f16 attn_output=q5_1 attn_v=q5_1")},
      {"Q4_K_S", 14, Uniform("q5_0", "output=q8_0 ffn_down=f16 attn_v=q5_1,q5_1,q5_1,q5_1,q5_0")},
      {"Q4_K_M", 15, Uniform("q5_0", "output=q8_0 ffn_down=f16 attn_v=q5_0,q5_0,q8_0,q5_0,q8_0")},
      {"Q5_K_S", 16, Uniform("q5_1", "output=q8_0 ffn_down=f16")},
      {"Q5_K_M", 17, Uniform("q5_1", "output=q8_0 ffn_down=f16 attn_v=q5_1,q5_1,q8_0,q5_1,q8_0")},
      {"Q6_K", 18, Uniform("q8_0", "ffn_down=f16")},
      {"IQ4_NL", 25, Uniform("iq4_nl", "output=q8_0 ffn_down=f16")},
      {"TQ1_0", 36, Uniform("q4_0", "output=q8_0 ffn_down=f16 token_embd=q5_0")},
      {"TQ2_0", 37, Uniform("q4_0", "output=q8_0 ffn_down=f16 token_embd=q5_0")},
      {"NF4", 200, Uniform("nf4", "ffn_down=f16")},
      {"INT4_G128", 204, Uniform("int4_g32", "ffn_down=f16")},
      {"INT8_G64", 206, Uniform("int8_g64", "ffn_down=f16")},
  };
  return cases;
}

void RunCases(const std::string& input, const std::vector<Case>& cases, const TempDir& tmp, int64_t n_generate) {
  auto in = Open(input);
  ASSERT_NE(in, nullptr);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.recipe);
    const std::string out = tmp.File(c.recipe + ".gguf");
    QuantizeReport report;
    Status st = Quantize(input, out, c.recipe, &report);
    ASSERT_TRUE(st.ok()) << st.message();
    auto q = Open(out);
    ASSERT_NE(q, nullptr);
    ExpectTypesAndBytes(*in, *q, ParseTable(c.table), c.recipe);
    ExpectLlamaMetadata(*in, *q, c.file_type);
    uint64_t bytes = 0;
    for (const GgufTensorInfo& t : q->tensors()) bytes += t.view.bytes();
    EXPECT_EQ(report.bytes_out, bytes);
    EXPECT_EQ(report.tensors.size(), q->tensors().size());
    if (n_generate > 0) {
      EXPECT_EQ(Greedy(out, n_generate).size(), static_cast<size_t>(n_generate));
    }
    std::filesystem::remove(out);
  }
}

TEST(QuantizeModel, TinyTypesAndBytesMatchLlamaQuantize) {
  TempDir tmp;
  RunCases(WriteModel(Tiny(), tmp.File("tiny.gguf")), TinyCases(), tmp, 4);
}

TEST(QuantizeModel, K256TypesAndBytesMatchLlamaQuantize) {
  TempDir tmp;
  RunCases(WriteModel(K256(), tmp.File("k256.gguf")), K256Cases(), tmp, 0);
}

TEST(QuantizeModel, StoriesTypesAndBytesMatchLlamaQuantize) {
  const std::string stories = testing_util::DataDir() + "/stories260K/stories260K.gguf";
  if (!testing_util::FileExists(stories)) GTEST_SKIP() << "../shared/data is absent: skipping stories260K";
  TempDir tmp;
  RunCases(stories, StoriesCases(), tmp, 4);
}

TEST(QuantizeModel, StoriesFallbacksAreReported) {
  const std::string stories = testing_util::DataDir() + "/stories260K/stories260K.gguf";
  if (!testing_util::FileExists(stories)) GTEST_SKIP() << "../shared/data is absent: skipping stories260K";
  TempDir tmp;
  QuantizeReport report;
  ASSERT_TRUE(Quantize(stories, tmp.File("q.gguf"), "q4_k_m", &report).ok());
  EXPECT_EQ(report.recipe.name, "Q4_K_M");
  // ffn_down (172): q4_K or q6_K -> f16; the rest (64): q4_K -> q5_0, q6_K -> q8_0. output.weight
  // is no fallback: llama.cpp sends an output whose rows do not fit the recipe's blocks to q8_0 directly.
  const std::vector<std::string> expected = {
      "3 tensors with rows of 172 (not a multiple of 256 for q4_K): using f16",
      "29 tensors with rows of 64 (not a multiple of 256 for q4_K): using q5_0",
      "2 tensors with rows of 172 (not a multiple of 256 for q6_K): using f16",
      "2 tensors with rows of 64 (not a multiple of 256 for q6_K): using q8_0",
  };
  EXPECT_EQ(report.fallbacks, expected);
}

TEST(QuantizeModel, StoriesQuantizedGreedyFollowsTheReference) {
  const std::string data = testing_util::DataDir() + "/stories260K/";
  if (!testing_util::FileExists(data + "stories260K.gguf")) GTEST_SKIP() << "../shared/data is absent";
  // llama2.c's greedy tokens from BOS (reference.json, greedy_t0_steps256_empty_prompt).
  const std::vector<int32_t> reference = {403, 407, 261, 378, 432, 383, 286, 261, 376, 298,
                                          315, 421, 395, 317, 426, 338, 401, 396, 267, 337};
  TempDir tmp;
  ASSERT_EQ(Greedy(data + "stories260K.gguf", 20), reference);
  for (const char* recipe : {"F16", "Q8_0"}) {
    SCOPED_TRACE(recipe);
    ASSERT_TRUE(Quantize(data + "stories260K.gguf", tmp.File("q.gguf"), recipe).ok());
    EXPECT_EQ(Greedy(tmp.File("q.gguf"), 20), reference);
  }
}

TEST(QuantizeModel, MoreBitsGiveSmallerErrors) {
  TempDir tmp;
  const std::string input = WriteModel(K256(), tmp.File("k256.gguf"));
  auto in = Open(input);
  ASSERT_NE(in, nullptr);
  auto error = [&](const std::string& recipe) {
    const std::string out = tmp.File(recipe + ".gguf");
    Status st = Quantize(input, out, recipe);
    EXPECT_TRUE(st.ok()) << st.message();
    auto q = Open(out);
    return q ? RelativeError(*in, *q) : -1.0;
  };
  for (const std::vector<std::string>& chain :
       {std::vector<std::string>{"TQ1_0", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M",
                                 "Q6_K", "Q8_0", "F16"},
        std::vector<std::string>{"Q4_0", "Q5_0", "Q8_0"}, std::vector<std::string>{"Q4_1", "Q5_1"},
        std::vector<std::string>{"INT4_G128", "INT4_G64", "INT4_G32", "INT8_G128", "INT8_G64", "INT8_G32"},
        std::vector<std::string>{"NF4", "INT8_G128"}}) {
    double previous = 2;
    for (const std::string& recipe : chain) {
      const double e = error(recipe);
      EXPECT_LT(e, previous) << recipe << " after a recipe with fewer bits";
      EXPECT_GT(e, 0) << recipe;
      previous = e;
    }
  }
  EXPECT_EQ(error("F32"), 0);
}

TEST(QuantizeModel, OverridesKeepOutputAndSmallChunks) {
  TempDir tmp;
  const std::string input = WriteModel(Tiny(), tmp.File("tiny.gguf"));
  auto in = Open(input);
  QuantizeReport report;
  // The first matching override wins; output.weight stays F32; rows of 160
  // cannot hold q4_K, so the override falls back like the recipe would.
  ASSERT_TRUE(Quantize(input, tmp.File("o.gguf"), "Q8_0", &report,
                       {"blk\\.1\\.attn_v=q4_1", "attn_v=f16", "ffn_down=q4_K", "^output=q4_0"}, true)
                  .ok());
  auto q = Open(tmp.File("o.gguf"));
  ExpectTypesAndBytes(*in, *q, ParseTable(Uniform("q8_0", "output=f32 attn_v=f16,q4_1 ffn_down=q5_0 token_embd=q8_0")),
                      "overrides");
  ASSERT_EQ(report.fallbacks.size(), 1u);
  EXPECT_EQ(report.fallbacks[0], "2 tensors with rows of 160 (not a multiple of 256 for q4_K): using q5_0");

  // Chunks of a few rows give the same file as the default chunking.
  QuantizeOptions small;
  small.recipe = "Q4_K_M";
  small.max_chunk_elements = 100;
  small.n_threads = 2;
  ASSERT_TRUE(QuantizeModel(input, tmp.File("small.gguf"), small).ok());
  ASSERT_TRUE(Quantize(input, tmp.File("big.gguf"), "Q4_K_M").ok());
  std::ifstream a(tmp.File("small.gguf"), std::ios::binary), b(tmp.File("big.gguf"), std::ios::binary);
  std::stringstream sa, sb;
  sa << a.rdbuf();
  sb << b.rdbuf();
  EXPECT_EQ(sa.str(), sb.str());
}

TEST(QuantizeModel, RequantizesLeanlmTypesToGgmlTypes) {
  TempDir tmp;
  const std::string input = WriteModel(Tiny(), tmp.File("tiny.gguf"));
  ASSERT_TRUE(Quantize(input, tmp.File("nf4.gguf"), "NF4").ok());
  ASSERT_TRUE(Quantize(tmp.File("nf4.gguf"), tmp.File("q8.gguf"), "Q8_0").ok());
  auto nf4 = Open(tmp.File("nf4.gguf"));
  auto q8 = Open(tmp.File("q8.gguf"));
  // The NF4 rows, dequantized, are the input of the Q8_0 quantizer.
  ExpectTypesAndBytes(*nf4, *q8, ParseTable(Uniform("q8_0")), "nf4 -> q8_0");
  EXPECT_GT(Greedy(tmp.File("q8.gguf"), 4).size(), 0u);
}

// Every tensor of `a` equals the tensor of `b` that `rename` maps its name to.
void ExpectSameTensors(const std::string& a_path, const std::string& b_path,
                       const std::map<std::string, std::string>& rename = {}) {
  auto a = Open(a_path);
  auto b = Open(b_path);
  ASSERT_TRUE(a && b);
  for (const GgufTensorInfo& t : a->tensors()) {
    const std::string name = rename.count(t.name) ? rename.at(t.name) : t.name;
    const GgufTensorInfo* u = b->FindTensor(name);
    ASSERT_NE(u, nullptr) << name;
    EXPECT_EQ(t.view.type, u->view.type) << t.name;
    ASSERT_EQ(t.view.bytes(), u->view.bytes()) << t.name;
    EXPECT_EQ(std::memcmp(t.view.data, u->view.data, t.view.bytes()), 0) << t.name;
  }
}

size_t CountFiles(const std::string& dir) {
  return static_cast<size_t>(
      std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()));
}

TEST(QuantizeModel, Llama2cInputGivesTheSameTensorsAsItsGguf) {
  const std::string data = testing_util::DataDir() + "/stories260K/";
  if (!testing_util::FileExists(data + "stories260K.bin")) GTEST_SKIP() << "../shared/data is absent";
  TempDir tmp;
  QuantizeOptions o;
  o.recipe = "Q4_K_M";
  o.tokenizer_path = data + "tok512.bin";
  ASSERT_TRUE(QuantizeModel(data + "stories260K.bin", tmp.File("from_bin.gguf"), o).ok());
  ASSERT_TRUE(Quantize(data + "stories260K.gguf", tmp.File("from_gguf.gguf"), "Q4_K_M").ok());
  // The checkpoint ties the head to the embeddings (the GGUF stores both):
  // like llama.cpp, the tied token_embd gets the output's type (q6_K, here
  // its q8_0 fallback), so it equals the GGUF's quantized output.weight.
  ExpectSameTensors(tmp.File("from_bin.gguf"), tmp.File("from_gguf.gguf"), {{"token_embd.weight", "output.weight"}});
  EXPECT_EQ(Open(tmp.File("from_bin.gguf"))->tensors().size() + 1, Open(tmp.File("from_gguf.gguf"))->tensors().size());
  EXPECT_EQ(CountFiles(tmp.path()), 2u) << "the intermediate GGUF was left behind";
}

// An HF directory holds Q/K in the rotate-half layout; quantizing it must
// give the tensors of the GGUF it was converted from (SaveGguf permutes back).
TEST(QuantizeModel, HfDirectoryInputGivesTheSameTensorsAsItsGguf) {
  const std::string data = testing_util::DataDir() + "/stories260K/";
  if (!testing_util::FileExists(data + "stories260K.gguf")) GTEST_SKIP() << "../shared/data is absent";
  TempDir tmp;
  ASSERT_TRUE(ConvertModel(data + "stories260K.gguf", tmp.File("hf"), {}).ok());
  Status st = Quantize(tmp.File("hf"), tmp.File("from_hf.gguf"), "Q5_K_M");
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_TRUE(Quantize(data + "stories260K.gguf", tmp.File("from_gguf.gguf"), "Q5_K_M").ok());
  ExpectSameTensors(tmp.File("from_hf.gguf"), tmp.File("from_gguf.gguf"));
  EXPECT_EQ(Greedy(tmp.File("from_hf.gguf"), 4).size(), 4u);
}

// Bad input: a clear error, and nothing left in the output directory.
void ExpectFailure(const std::string& in, const std::string& out, const QuantizeOptions& o, const std::string& needle) {
  const std::filesystem::path dir = std::filesystem::path(out).parent_path();
  std::vector<std::string> before;
  if (std::filesystem::is_directory(dir)) {
    for (const auto& e : std::filesystem::directory_iterator(dir)) before.push_back(e.path().string());
  }
  Status st = QuantizeModel(in, out, o);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(needle), std::string::npos) << st.message();
  EXPECT_FALSE(std::filesystem::exists(out));
  std::vector<std::string> after;
  if (std::filesystem::is_directory(dir)) {
    for (const auto& e : std::filesystem::directory_iterator(dir)) after.push_back(e.path().string());
  }
  std::sort(before.begin(), before.end());
  std::sort(after.begin(), after.end());
  EXPECT_EQ(before, after);
}

TEST(QuantizeModelErrors, BadOptions) {
  TempDir tmp;
  const std::string input = WriteModel(Tiny(), tmp.File("tiny.gguf"));
  const std::string out = tmp.File("out.gguf");
  QuantizeOptions o;
  o.recipe = "Q4_K_X";
  ExpectFailure(input, out, o, "unknown quantization type 'Q4_K_X'");
  o.recipe = "Q8_0";
  o.tensor_types = {"attn_v[=q8_0"};
  ExpectFailure(input, out, o, "does not compile");
  o.tensor_types = {"attn_v=q9_9"};
  ExpectFailure(input, out, o, "unknown tensor type 'q9_9'");
  o.tensor_types = {"attn_v"};
  ExpectFailure(input, out, o, "expected REGEX=TYPE");
  o.tensor_types = {};
  ExpectFailure(input, tmp.File("no/such/dir/out.gguf"), o, "does not exist");
  ExpectFailure(tmp.File("missing.gguf"), out, o, "missing.gguf");
}

TEST(QuantizeModelErrors, TensorSizeDoesNotMatchTypeAndShape) {
  TempDir tmp;
  const std::string out = tmp.File("out.gguf");
  QuantizeOptions o;
  o.recipe = "Q8_0";
  // A q4_0 tensor whose rows (33) are not whole blocks.
  Bytes odd;
  odd.Header(1, 1).Str("general.architecture").U32(8).Str("llama");
  odd.Info("token_embd.weight", {33, 2}, 2, 0).PadTo(32).Zeros(64);
  const std::string odd_path = tmp.File("odd.gguf");
  std::ofstream(odd_path, std::ios::binary).write(reinterpret_cast<const char*>(odd.data()), odd.size());
  ExpectFailure(odd_path, out, o, "odd.gguf");
  // An F32 tensor of 64 x 8 with only 100 bytes of data.
  Bytes short_data;
  short_data.Header(1, 1).Str("general.architecture").U32(8).Str("llama");
  short_data.Info("token_embd.weight", {64, 8}, 0, 0).PadTo(32).Zeros(100);
  const std::string short_path = tmp.File("short.gguf");
  std::ofstream(short_path, std::ios::binary)
      .write(reinterpret_cast<const char*>(short_data.data()), short_data.size());
  ExpectFailure(short_path, out, o, "token_embd.weight");
}

TEST(QuantizeModelErrors, NonFiniteWeights) {
  TempDir tmp;
  const std::string input = WriteModel(Tiny(), tmp.File("tiny.gguf"));
  auto in = Open(input);
  GgufWriter w;
  for (const auto& [k, v] : in->metadata()) w.Set(k, v);
  std::vector<float> poisoned;
  for (const GgufTensorInfo& t : in->tensors()) {
    TensorView v = t.view;
    if (t.name == "blk.1.ffn_up.weight") {
      poisoned.assign(t.view.f32(), t.view.f32() + t.view.elements());
      poisoned[3 * t.view.ne[0] + 5] = std::nanf("");
      v.data = poisoned.data();
    }
    ASSERT_TRUE(w.AddTensor(t.name, v).ok());
  }
  ASSERT_TRUE(w.Write(tmp.File("nan.gguf")).ok());
  QuantizeOptions o;
  o.recipe = "Q4_0";
  ExpectFailure(tmp.File("nan.gguf"), tmp.File("out.gguf"), o, "'blk.1.ffn_up.weight' row 3");
}

}  // namespace
}  // namespace leanlm
