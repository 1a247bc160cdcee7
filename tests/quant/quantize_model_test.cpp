// QuantizeModel against llama.cpp: the type of every tensor is the one
// llama-quantize (b4747) wrote for the same model and recipe (the tables
// below were taken from its output), the bytes of every converted tensor are
// the registry's reference quantizer applied to the input rows (the formats
// are proven byte-exact with ggml by golden_test), the result loads and
// generates, and more bits give smaller weight errors. The K-quants without
// fallbacks: quantize_model_slow_test.
#include <fstream>

#include "base/cpu_features.h"
#include "io/convert.h"
#include "model/kv_cache.h"
#include "quant/quantize_test_util.h"

namespace leanlm::quant_test {
namespace {

using testing_util::Bytes;

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

TEST(QuantizeModel, TinyTypesAndBytesMatchLlamaQuantize) {
  TempDir tmp;
  RunCases(WriteModel(Tiny(), tmp.File("tiny.gguf")), TinyCases(), tmp, 4);
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

// Packing the weights for decode (model/packed_linears.h) changes only the
// summation order: the logits of a prompt and of single decode steps match the
// file layout's within float rounding, for each packable type and the K-quant mixes.
TEST(QuantizeModel, PackedWeightsGiveTheSameLogits) {
  ThreadPool pool(2);
  if (!CpuLevelSupported(CpuLevel::kAvx512) || !DetectedCpuFeatures().avx512vnni) {
    GTEST_SKIP() << "no AVX-512 VNNI: weights are not packed here";
  }
  TempDir tmp;
  const std::string input = WriteModel(K256(2), tmp.File("k256.gguf"));
  for (const char* recipe : {"Q4_0", "Q8_0", "Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M"}) {
    SCOPED_TRACE(recipe);
    ASSERT_TRUE(Quantize(input, tmp.File("q.gguf"), recipe).ok());
    ModelOptions options;
    options.pack_weights = false;
    auto model = Model::Load(tmp.File("q.gguf"), options);
    ASSERT_TRUE(model.ok()) << model.status().message();
    LlamaModel& llama = (*model)->llama();
    const int64_t vocab = llama.config().n_vocab;
    const std::vector<int32_t> tokens = {1, 17, 99, 3, 250, 8, 41};
    const int64_t n = static_cast<int64_t>(tokens.size());
    // All logits of the prompt (the GEMM), then two decode steps (gemv).
    auto logits = [&]() {
      KvCache cache(llama.config(), 16);
      std::vector<float> out(static_cast<size_t>((n + 2) * vocab));
      EXPECT_TRUE(llama.Forward(tokens.data(), n, 0, cache, out.data(), true, pool).ok());
      for (int64_t i = 0; i < 2; ++i) {
        EXPECT_TRUE(llama.Forward(&tokens[i], 1, n + i, cache, out.data() + (n + i) * vocab, false, pool).ok());
      }
      return out;
    };
    const std::vector<float> file_layout = logits();
    auto packed = llama.PackWeights(pool);
    ASSERT_TRUE(packed.ok()) << packed.status().message();
    EXPECT_GT(*packed, size_t{0});
    const std::vector<float> with_packed = logits();
    float scale = 0;
    for (float v : file_layout) scale = std::max(scale, std::fabs(v));
    // The prompt's GEMM panels hold the same values packed or not. The two
    // gemvs sum in different orders, and a last-bit difference can flip the
    // int8 rounding of an activation downstream, which moves the logits by
    // up to ~1% (seen with Q2_K); a weight in the wrong place moves them by
    // their whole size. The kernels' own precision is quant_matmul_test's.
    for (size_t i = 0; i < file_layout.size(); ++i) {
      const bool prompt = static_cast<int64_t>(i) < n * vocab;
      ASSERT_NEAR(with_packed[i], file_layout[i], (prompt ? 1e-4f : 3e-2f) * scale)
          << "logit " << i % vocab << " of row " << i / vocab;
    }
  }
}

TEST(QuantizeModel, MoreBitsGiveSmallerErrors) {
  TempDir tmp;
  const std::string input = WriteModel(K256(2), tmp.File("k256.gguf"));
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
}  // namespace leanlm::quant_test
