// End-to-end on the real stories260K model (arch llama, llama.cpp Q/K order):
// a random LoRA/DoRA adapter saved in PEFT format, applied with --adapter,
// gives the same perplexity as the model `leanlm merge` writes (GGUF and HF
// directory); --adapter also takes a GGUF LoRA, a scale, several adapters, and
// compare measures base vs base + adapter; bad adapters fail cleanly.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <fstream>
#include <random>

#include "io/model_source.h"
#include "peft/adapter_shapes.h"
#include "peft/gguf_lora.h"
#include "peft/peft_format.h"
#include "support/cli_runner.h"

namespace leanlm::testing {
namespace {

class AdapterCli : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = SharedData();
    if (data_.empty()) GTEST_SKIP() << "../shared/data is absent: skipping the stories260K adapter tests";
    model_ = data_ + "/stories260K/stories260K.gguf";
    text_ = text_dir_ / "text.txt";  // the first 4 KB of TinyStories' validation text
    std::ofstream(text_) << ReadAll(data_ + "/text/tinystories_valid_first1000.txt").substr(0, 4096);
    auto src = LoadModelSource(model_);
    ASSERT_TRUE(src.ok()) << src.status().message();
    config_ = src->config;
  }

  // A random adapter on every linear of every layer (B non-zero, so it matters).
  Adapter RandomLora(bool dora, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    LoraAdapter lora;
    lora.r = 4;
    lora.alpha = 8;
    for (int64_t l = 0; l < config_.n_layer; ++l) {
      for (int s = 0; s < kLinearSlots; ++s) {
        LoraTarget t;
        t.weight = LinearWeightName(l, static_cast<LinearSlot>(s));
        const AdaptedLinear lin = FindAdaptedLinear(config_, t.weight).value();
        t.in = lin.in;
        t.out = lin.out;
        for (int64_t i = 0; i < lora.r * t.in; ++i) t.a.push_back(normal(rng) / std::sqrt(float(t.in)));
        for (int64_t i = 0; i < lora.r * t.out; ++i) t.b.push_back(0.05f * normal(rng));
        if (dora) {
          for (int64_t i = 0; i < t.out; ++i) t.magnitude.push_back(1.0f + 0.2f * normal(rng));
        }
        lora.targets.push_back(std::move(t));
      }
    }
    Adapter a;
    a.value = std::move(lora);
    a.base_model = "stories260K";
    return a;
  }

  double Ppl(std::vector<std::string> args) {
    args.insert(args.begin(), {"perplexity", "-f", text_, "-c", "128", "--json"});
    const CliResult r = RunCli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    if (r.exit_code != 0) return 0;
    return nlohmann::json::parse(r.out)["ppl"].get<double>();
  }

  TempDir text_dir_;
  std::string data_, model_, text_;
  ModelConfig config_;
};

TEST_F(AdapterCli, MergedModelMatchesAdapter) {
  TempDir tmp;
  ASSERT_TRUE(SavePeftAdapter(RandomLora(false, 1), config_, tmp / "lora").ok());
  ASSERT_TRUE(SavePeftAdapter(RandomLora(true, 2), config_, tmp / "dora").ok());
  const double base = Ppl({"-m", model_});
  const double with = Ppl({"-m", model_, "--adapter", tmp / "lora", "--adapter", tmp / "dora"});
  EXPECT_GT(std::fabs(with - base), 1e-3 * base) << "the adapters should change the perplexity";

  CliResult r = RunCli({"merge", model_, tmp / "lora", tmp / "merged.gguf", "--adapter", tmp / "dora", "--type", "f32"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NEAR(Ppl({"-m", tmp / "merged.gguf"}), with, 1e-4 * with);
  r = RunCli({"merge", model_, tmp / "lora", tmp / "merged_hf", "--adapter", tmp / "dora", "--type", "f32"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NEAR(Ppl({"-m", tmp / "merged_hf"}), with, 1e-4 * with);
  // The base's own type (F32 for stories260K) is the default.
  r = RunCli({"merge", model_, tmp / "lora", tmp / "merged2.gguf", "--adapter", tmp / "dora"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NEAR(Ppl({"-m", tmp / "merged2.gguf"}), with, 1e-4 * with);
}

TEST_F(AdapterCli, GgufLoraScaleAndCompare) {
  TempDir tmp;
  const Adapter lora = RandomLora(false, 3);
  ASSERT_TRUE(SavePeftAdapter(lora, config_, tmp / "lora").ok());
  ASSERT_TRUE(SaveGgufLora(lora, config_, tmp / "lora.gguf").ok());
  const double peft = Ppl({"-m", model_, "--adapter", tmp / "lora"});
  EXPECT_EQ(Ppl({"-m", model_, "--adapter", tmp / "lora.gguf"}), peft);
  // Scale 0 is the base model; two halves are one whole.
  EXPECT_NEAR(Ppl({"-m", model_, "--adapter", tmp / "lora.gguf:0"}), Ppl({"-m", model_}), 1e-6);
  EXPECT_NEAR(Ppl({"-m", model_, "--adapter", tmp / "lora:0.5", "--adapter", tmp / "lora.gguf:0.5"}), peft,
              1e-4 * peft);
  const CliResult r = RunCli({"compare", model_, model_, "--adapter", tmp / "lora", "-f", text_, "-c", "128", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(nlohmann::json::parse(r.out).dump().size(), 10u);
}

TEST_F(AdapterCli, RunWithPromptAdapter) {
  TempDir tmp;
  PromptAdapter p;
  p.n_virtual = 4;
  p.n_embd = config_.n_embd;
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  for (int64_t i = 0; i < p.n_virtual * p.n_embd; ++i) p.embeddings.push_back(normal(rng));
  Adapter a;
  a.value = p;
  ASSERT_TRUE(SavePeftAdapter(a, config_, tmp / "prompt").ok());
  const CliResult with = RunCli({"run", "-m", model_, "-p", "Once", "-n", "16", "--temp", "0", "--adapter",
                                 tmp / "prompt"});
  ASSERT_EQ(with.exit_code, 0) << with.err;
  EXPECT_EQ(with.out.rfind("Once", 0), 0u) << with.out;
  // The virtual tokens change what the model predicts (a little: chunks score their second half only).
  EXPECT_NE(Ppl({"-m", model_, "--adapter", tmp / "prompt"}), Ppl({"-m", model_}));
}

TEST_F(AdapterCli, BadAdapters) {
  TempDir tmp;
  CliResult r = RunCli({"run", "-m", model_, "-p", "x", "-n", "1", "--adapter", tmp / "missing"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no such file"), std::string::npos) << r.err;
  // An adapter for another model: a LoRA whose shapes come from a wider config.
  ModelConfig wide = config_;
  wide.n_embd *= 2;
  wide.head_dim *= 2;
  LoraAdapter lora;
  lora.r = 2;
  lora.alpha = 2;
  LoraTarget t;
  t.weight = "blk.0.attn_v.weight";
  t.in = wide.n_embd;
  t.out = wide.kv_dim();
  t.a.assign(static_cast<size_t>(2 * t.in), 0.1f);
  t.b.assign(static_cast<size_t>(2 * t.out), 0.1f);
  lora.targets.push_back(t);
  Adapter a;
  a.value = lora;
  ASSERT_TRUE(SavePeftAdapter(a, wide, tmp / "wide").ok());
  r = RunCli({"perplexity", "-m", model_, "-f", text_, "--adapter", tmp / "wide"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("another base model"), std::string::npos) << r.err;
  r = RunCli({"merge", model_, tmp / "wide", tmp / "out.gguf"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("another base model"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace leanlm::testing
