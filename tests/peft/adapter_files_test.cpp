// Adapter files: PEFT -> GGUF LoRA -> PEFT round trips bit for bit (both Q/K
// layouts), PEFT- and GGUF-loaded adapters give identical logits, prompt /
// prefix / DoRA PEFT saves reload exactly, merged weights give the unmerged
// logits, and bad input gives clear errors.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "io/gguf.h"
#include "io/safetensors.h"
#include "peft/gguf_lora.h"
#include "peft/merge.h"
#include "peft/peft_format.h"
#include "peft_fixture.h"

namespace leanlm {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAll(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// Every tensor of two safetensors files: same names, dtypes, shapes, bytes.
void ExpectSameTensors(const std::string& a_path, const std::string& b_path) {
  auto a = OpenSafetensors(a_path);
  auto b = OpenSafetensors(b_path);
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_TRUE(b.ok()) << b.status().message();
  ASSERT_EQ(a->tensors().size(), b->tensors().size());
  for (const SafetensorsTensor& t : a->tensors()) {
    const SafetensorsTensor* u = b->Find(t.name);
    ASSERT_NE(u, nullptr) << t.name;
    EXPECT_EQ(t.dtype, u->dtype) << t.name;
    EXPECT_EQ(t.shape, u->shape) << t.name;
    ASSERT_EQ(t.bytes, u->bytes) << t.name;
    EXPECT_EQ(std::memcmp(t.data, u->data, t.bytes), 0) << t.name;
  }
}

class LayoutTest : public ::testing::TestWithParam<std::string> {};

TEST_P(LayoutTest, PeftToGgufToPeftIsBitIdentical) {
  PeftBase base(GetParam());
  TempDir tmp;
  auto peft = LoadAdapter({PeftFixture("lora"), 1.0f}, base.f.config);
  ASSERT_TRUE(peft.ok()) << peft.status().message();
  ASSERT_TRUE(SaveGgufLora(*peft, base.f.config, tmp / "lora.gguf").ok());
  auto gguf = LoadAdapter({tmp / "lora.gguf", 1.0f}, base.f.config);
  ASSERT_TRUE(gguf.ok()) << gguf.status().message();
  const Status st = SavePeftAdapter(*gguf, base.f.config, tmp / "again");
  ASSERT_TRUE(st.ok()) << st.message();
  ExpectSameTensors(PeftFixture("lora/adapter_model.safetensors"), tmp / "again/adapter_model.safetensors");
  auto again = LoadAdapter({tmp / "again", 1.0f}, base.f.config);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->lora()->r, 4);
  EXPECT_EQ(again->lora()->alpha, 8.0f);
  EXPECT_EQ(again->target_modules,
            (std::vector<std::string>{"down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"}));
}

TEST_P(LayoutTest, PeftAndGgufGiveIdenticalLogits) {
  for (const std::string name : {"lora", "rslora_f16"}) {
    PeftBase base(GetParam());
    TempDir tmp;
    auto peft = base.Load(name);
    ASSERT_TRUE(SaveGgufLora(*peft, base.f.config, tmp / "a.gguf").ok());
    ASSERT_TRUE(base.model->SetAdapters({peft}).ok());
    const std::vector<float> from_peft = base.Logits();
    auto gguf = base.Load(tmp / "a.gguf");  // absolute: PeftFixture is not prefixed to it
    ASSERT_TRUE(base.model->SetAdapters({gguf}).ok());
    if (name == "lora") {
      EXPECT_EQ(MaxAbsDiff(base.Logits(), from_peft), 0.0f) << name;
    } else {  // rsLoRA's scale becomes alpha·sqrt(r) / r in llama.cpp's form
      EXPECT_LE(MaxAbsDiff(base.Logits(), from_peft), 1e-5f) << name;
    }
  }
}

TEST_P(LayoutTest, PeftSavesReloadExactly) {
  for (const std::string name : {"dora", "prompt", "prefix", "rslora_f16"}) {
    PeftBase base(GetParam());
    TempDir tmp;
    auto first = base.Load(name);
    ASSERT_TRUE(SavePeftAdapter(*first, base.f.config, tmp / "out").ok()) << name;
    auto second = LoadAdapter({tmp / "out", 1.0f}, base.f.config);
    ASSERT_TRUE(second.ok()) << second.status().message();
    ASSERT_TRUE(base.model->SetAdapters({first}).ok());
    const std::vector<float> a = base.Logits();
    ASSERT_TRUE(base.model->SetAdapters({std::make_shared<const Adapter>(*second)}).ok());
    EXPECT_EQ(MaxAbsDiff(base.Logits(), a), 0.0f) << name;
    EXPECT_LE(MaxAbsDiff(a, ReadLogits(name)), 1e-4f) << name;
  }
}

TEST_P(LayoutTest, MergedEqualsUnmerged) {
  const std::vector<std::vector<std::pair<std::string, float>>> sets = {
      {{"lora", 1.0f}}, {{"dora", 1.0f}}, {{"lora", 0.5f}, {"rslora_f16", 1.5f}, {"dora", 1.0f}}};
  for (const auto& set : sets) {
    PeftBase base(GetParam());
    std::vector<std::shared_ptr<const Adapter>> adapters;
    std::vector<const Adapter*> raw;
    for (const auto& [dir, scale] : set) {
      adapters.push_back(base.Load(dir, scale));
      raw.push_back(adapters.back().get());
    }
    ASSERT_TRUE(base.model->SetAdapters(adapters).ok());
    const std::vector<float> unmerged = base.Logits();
    std::vector<std::shared_ptr<const void>> keep;
    auto merged = MergeAdapters(base.f.config, base.f.tensors, raw, std::nullopt, keep);
    ASSERT_TRUE(merged.ok()) << merged.status().message();
    auto weights = BindWeights(base.f.config, *merged, "merged");
    ASSERT_TRUE(weights.ok());
    LlamaModel model(base.f.config, std::move(weights).value());
    ThreadPool pool(2);
    KvCache cache(base.f.config, base.f.n_tokens);
    std::vector<float> logits(unmerged.size());
    ASSERT_TRUE(model.Forward(base.f.tokens.data(), base.f.n_tokens, 0, cache, logits.data(), true, pool).ok());
    EXPECT_LE(MaxAbsDiff(logits, unmerged), 1e-4f) << set.front().first << " (" << set.size() << " adapters)";
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, LayoutTest, ::testing::Values("base", "base_adjacent"));

TEST(AdapterFiles, MergeIntoF16AndRejectsPrompt) {
  PeftBase base("base");
  auto lora = base.Load("lora");
  std::vector<std::shared_ptr<const void>> keep;
  auto merged = MergeAdapters(base.f.config, base.f.tensors, {lora.get()}, DType::kF16, keep);
  ASSERT_TRUE(merged.ok()) << merged.status().message();
  EXPECT_EQ(merged->at("blk.0.attn_q.weight").type, DType::kF16);
  EXPECT_EQ(merged->at("blk.0.attn_norm.weight").type, DType::kF32);  // untouched
  auto prompt = base.Load("prompt");
  auto bad = MergeAdapters(base.f.config, base.f.tensors, {prompt.get()}, std::nullopt, keep);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("cannot be merged"), std::string::npos);
}

TEST(AdapterFiles, GgufLoraLayout) {
  // The file is what llama.cpp reads: general.type, adapter.type, alpha, and
  // lora_a ne {in, r}, lora_b ne {r, out} under the base tensor's name.
  PeftBase base("base");
  TempDir tmp;
  ASSERT_TRUE(SaveGgufLora(*base.Load("lora"), base.f.config, tmp / "a.gguf").ok());
  auto g = GgufFile::Open(tmp / "a.gguf");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ((*g)->GetString("general.type").value(), "adapter");
  EXPECT_EQ((*g)->GetString("adapter.type").value(), "lora");
  EXPECT_EQ((*g)->GetString("general.architecture").value(), "llama");
  EXPECT_EQ((*g)->GetFloat("adapter.lora.alpha").value(), 8.0);
  const GgufTensorInfo* a = (*g)->FindTensor("blk.1.ffn_down.weight.lora_a");
  const GgufTensorInfo* b = (*g)->FindTensor("blk.1.ffn_down.weight.lora_b");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->view.ne[0], base.f.config.n_ff);
  EXPECT_EQ(a->view.ne[1], 4);
  EXPECT_EQ(b->view.ne[0], 4);
  EXPECT_EQ(b->view.ne[1], base.f.config.n_embd);
  // DoRA has no GGUF form.
  const Status st = SaveGgufLora(*base.Load("dora"), base.f.config, tmp / "d.gguf");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("DoRA"), std::string::npos);
}

// ---------------------------------------------------------------- bad input

class BadInputTest : public ::testing::Test {
 protected:
  // A copy of a fixture adapter directory whose config/tensors a test edits.
  std::string Copy(const std::string& name, const std::string& as = "") {
    const std::string dir = tmp_ / (as.empty() ? name : as);
    std::filesystem::copy(PeftFixture(name), dir);
    return dir;
  }
  void ExpectError(const std::string& dir, const std::string& needle, const ModelConfig* config = nullptr) {
    auto a = LoadAdapter({dir, 1.0f}, config ? *config : base_.f.config);
    ASSERT_FALSE(a.ok()) << "loaded " << dir;
    EXPECT_NE(a.status().message().find(needle), std::string::npos) << a.status().message();
  }
  void EditConfig(const std::string& dir, const std::string& from, const std::string& to) {
    std::string text = ReadAll(dir + "/adapter_config.json");
    const size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    WriteAll(dir + "/adapter_config.json", text);
  }
  PeftBase base_{"base"};
  TempDir tmp_;
};

TEST_F(BadInputTest, BadJson) {
  const std::string dir = Copy("lora");
  WriteAll(dir + "/adapter_config.json", "{\"peft_type\": \"LORA\", \"r\": 4,");
  ExpectError(dir, "adapter_config.json");
}

TEST_F(BadInputTest, WrongRank) {
  const std::string dir = Copy("lora");
  EditConfig(dir, "\"r\": 4", "\"r\": 8");
  ExpectError(dir, "expected [8, 32]");
}

TEST_F(BadInputTest, UnsupportedOptions) {
  std::string dir = Copy("lora");
  EditConfig(dir, "\"bias\": \"none\"", "\"bias\": \"all\"");
  ExpectError(dir, "bias");
  std::filesystem::remove_all(dir);
  dir = Copy("lora");
  EditConfig(dir, "\"peft_type\": \"LORA\"", "\"peft_type\": \"IA3\"");
  ExpectError(dir, "IA3");
  std::filesystem::remove_all(dir);
  dir = Copy("lora");
  EditConfig(dir, "\"r\": 4", "\"r\": \"four\"");
  ExpectError(dir, "\"r\"");
}

TEST_F(BadInputTest, MismatchedBase) {
  ModelConfig other = base_.f.config;
  other.n_embd = 64;
  other.head_dim = 16;
  ExpectError(PeftFixture("lora"), "another base model", &other);
  other = base_.f.config;
  other.n_layer = 1;
  ExpectError(PeftFixture("lora"), "layers", &other);
  other = base_.f.config;
  other.n_head_kv = 4;
  ExpectError(PeftFixture("prefix"), "key/value heads", &other);
  other = base_.f.config;
  other.arch = "qwen2";
  PeftBase b("base");
  TempDir tmp;
  ASSERT_TRUE(SaveGgufLora(*b.Load("lora"), b.f.config, tmp / "a.gguf").ok());
  ExpectError(tmp / "a.gguf", "architecture", &other);
}

TEST_F(BadInputTest, UnknownTargetAndMissingHalf) {
  // An adapter on the embeddings (not supported) and one with lora_B missing,
  // written through the safetensors writer from the fixture's tensors.
  auto st = OpenSafetensors(PeftFixture("lora/adapter_model.safetensors"));
  ASSERT_TRUE(st.ok());
  std::map<std::string, TensorView> tensors;
  for (const SafetensorsTensor& t : st->tensors()) tensors[t.name] = t.View("x").value();
  auto with_embed = tensors;
  with_embed["base_model.model.model.embed_tokens.lora_A.weight"] =
      tensors.at("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
  std::string dir = Copy("lora");
  ASSERT_TRUE(WriteSafetensors(dir + "/adapter_model.safetensors", with_embed).ok());
  ExpectError(dir, "embed_tokens");
  auto missing = tensors;
  missing.erase("base_model.model.model.layers.1.mlp.up_proj.lora_B.weight");
  dir = Copy("lora", "lora_2");
  ASSERT_TRUE(WriteSafetensors(dir + "/adapter_model.safetensors", missing).ok());
  ExpectError(dir, "no lora_B");
}

TEST_F(BadInputTest, NotAnAdapter) {
  ExpectError(tmp_ / "nothing", "no such file");
  WriteAll(tmp_ / "junk.bin", "not an adapter");
  ExpectError(tmp_ / "junk.bin", "expected a PEFT directory");
  auto spec = ParseAdapterSpec("dir:0.25");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->path, "dir");
  EXPECT_EQ(spec->scale, 0.25f);
  EXPECT_EQ(ParseAdapterSpec("a:b")->path, "a:b");
  EXPECT_FALSE(ParseAdapterSpec(":2").ok());
}

TEST_F(BadInputTest, ScaleOnPromptAdapter) {
  auto a = LoadAdapter({PeftFixture("prompt"), 2.0f}, base_.f.config);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("scale"), std::string::npos);
}

}  // namespace
}  // namespace leanlm
