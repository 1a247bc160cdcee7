// config.json -> ModelConfig on the published configs of real checkpoints
// (values as released on the Hugging Face hub), and every kind of bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "io/hf_dir.h"

namespace leanlm {
namespace {

// TinyLlama/TinyLlama-1.1B-Chat-v1.0
const char* kTinyLlama = R"({
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 2048,
  "initializer_range": 0.02, "intermediate_size": 5632, "max_position_embeddings": 2048,
  "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 22, "num_key_value_heads": 4,
  "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": null, "rope_theta": 10000.0,
  "tie_word_embeddings": false, "torch_dtype": "bfloat16", "transformers_version": "4.35.0",
  "use_cache": true, "vocab_size": 32000})";

// meta-llama/Llama-2-7b-hf: no rope_theta, no attention_bias (defaults apply).
const char* kLlama2 = R"({
  "architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
  "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 11008,
  "max_position_embeddings": 4096, "model_type": "llama", "num_attention_heads": 32,
  "num_hidden_layers": 32, "num_key_value_heads": 32, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
  "rope_scaling": null, "tie_word_embeddings": false, "torch_dtype": "float16",
  "transformers_version": "4.31.0.dev0", "use_cache": true, "vocab_size": 32000})";

// meta-llama/Meta-Llama-3-8B
const char* kLlama3 = R"({
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 128000, "eos_token_id": 128001, "hidden_act": "silu", "hidden_size": 4096,
  "initializer_range": 0.02, "intermediate_size": 14336, "max_position_embeddings": 8192,
  "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
  "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": null, "rope_theta": 500000.0,
  "tie_word_embeddings": false, "torch_dtype": "bfloat16", "transformers_version": "4.40.0.dev0",
  "use_cache": true, "vocab_size": 128256})";

// meta-llama/Llama-3.1-8B: llama3 RoPE scaling.
const char* kLlama31 = R"({
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 128000, "eos_token_id": 128001, "hidden_act": "silu", "hidden_size": 4096,
  "initializer_range": 0.02, "intermediate_size": 14336, "max_position_embeddings": 131072,
  "mlp_bias": false, "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32,
  "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
  "transformers_version": "4.43.0.dev0", "use_cache": true, "vocab_size": 128256})";

// meta-llama/Llama-3.2-1B: explicit head_dim, tied embeddings.
const char* kLlama32 = R"({
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 128000, "eos_token_id": 128001, "head_dim": 64, "hidden_act": "silu",
  "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 8192,
  "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama",
  "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8, "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
  "transformers_version": "4.45.0.dev0", "use_cache": true, "vocab_size": 128256})";

// mistralai/Mistral-7B-v0.1
const char* kMistral = R"({
  "architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
  "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
  "max_position_embeddings": 32768, "model_type": "mistral", "num_attention_heads": 32,
  "num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
  "sliding_window": 4096, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
  "transformers_version": "4.34.0.dev0", "use_cache": true, "vocab_size": 32000})";

// Qwen/Qwen2-0.5B: q/k/v biases without any key saying so, tied embeddings.
const char* kQwen2 = R"({
  "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
  "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02,
  "intermediate_size": 4864, "max_position_embeddings": 131072, "max_window_layers": 24,
  "model_type": "qwen2", "num_attention_heads": 14, "num_hidden_layers": 24, "num_key_value_heads": 2,
  "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 131072, "tie_word_embeddings": true,
  "torch_dtype": "bfloat16", "transformers_version": "4.40.1", "use_cache": true,
  "use_sliding_window": false, "vocab_size": 151936})";

// microsoft/Phi-3-mini-4k-instruct
const char* kPhi3 = R"({
  "_name_or_path": "Phi-3-mini-4k-instruct", "architectures": ["Phi3ForCausalLM"],
  "attention_dropout": 0.0,
  "auto_map": {"AutoConfig": "configuration_phi3.Phi3Config", "AutoModelForCausalLM": "modeling_phi3.Phi3ForCausalLM"},
  "bos_token_id": 1, "embd_pdrop": 0.0, "eos_token_id": 32000, "hidden_act": "silu", "hidden_size": 3072,
  "initializer_range": 0.02, "intermediate_size": 8192, "max_position_embeddings": 4096,
  "model_type": "phi3", "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32,
  "original_max_position_embeddings": 4096, "pad_token_id": 32000, "resid_pdrop": 0.0,
  "rms_norm_eps": 1e-05, "rope_scaling": null, "rope_theta": 10000.0, "sliding_window": 2047,
  "tie_word_embeddings": false, "torch_dtype": "bfloat16", "transformers_version": "4.40.2",
  "use_cache": true, "attention_bias": false, "vocab_size": 32064})";

// google/gemma-2b: hidden_act "gelu" (transformers runs the tanh form), head_dim
// 256 with 8 heads of a 2048 model, tied embeddings by default.
const char* kGemma = R"({
  "architectures": ["GemmaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 2, "eos_token_id": 1, "head_dim": 256, "hidden_act": "gelu", "hidden_size": 2048,
  "initializer_range": 0.02, "intermediate_size": 16384, "max_position_embeddings": 8192,
  "model_type": "gemma", "num_attention_heads": 8, "num_hidden_layers": 18, "num_key_value_heads": 1,
  "pad_token_id": 0, "rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 10000.0,
  "torch_dtype": "bfloat16", "transformers_version": "4.38.0.dev0", "use_cache": true,
  "vocab_size": 256000})";

ModelConfig MustParse(const char* json) {
  auto c = ConfigFromHfJson(json, "config.json");
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.ok() ? c.value() : ModelConfig{};
}

void ExpectShape(const ModelConfig& c, const char* arch, int64_t vocab, int64_t embd, int64_t layers, int64_t heads,
                 int64_t kv_heads, int64_t ff, int64_t head_dim, int64_t ctx) {
  EXPECT_EQ(c.arch, arch);
  EXPECT_EQ(c.n_vocab, vocab);
  EXPECT_EQ(c.n_embd, embd);
  EXPECT_EQ(c.n_layer, layers);
  EXPECT_EQ(c.n_head, heads);
  EXPECT_EQ(c.n_head_kv, kv_heads);
  EXPECT_EQ(c.n_ff, ff);
  EXPECT_EQ(c.head_dim, head_dim);
  EXPECT_EQ(c.n_ctx_train, ctx);
  EXPECT_TRUE(c.rope_neox);
  EXPECT_EQ(c.rotary_dim(), head_dim);
}

TEST(HfConfigTest, TinyLlama) {
  const ModelConfig c = MustParse(kTinyLlama);
  ExpectShape(c, "llama", 32000, 2048, 22, 32, 4, 5632, 64, 2048);
  EXPECT_EQ(c.norm_eps, 1e-5f);
  EXPECT_EQ(c.rope_theta, 10000.0f);
  EXPECT_EQ(c.rope_scaling, RopeScaling::kNone);
  EXPECT_FALSE(c.tied_embeddings);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_EQ(c.activation, Activation::kSilu);
  EXPECT_EQ(c.embed_scale, 1.0f);
}

TEST(HfConfigTest, Llama2UsesDefaults) {
  const ModelConfig c = MustParse(kLlama2);
  ExpectShape(c, "llama", 32000, 4096, 32, 32, 32, 11008, 128, 4096);
  EXPECT_EQ(c.rope_theta, 10000.0f);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_FALSE(c.tied_embeddings);
}

TEST(HfConfigTest, Llama3) {
  const ModelConfig c = MustParse(kLlama3);
  ExpectShape(c, "llama", 128256, 4096, 32, 32, 8, 14336, 128, 8192);
  EXPECT_EQ(c.rope_theta, 500000.0f);
  EXPECT_EQ(c.rope_scaling, RopeScaling::kNone);
}

TEST(HfConfigTest, Llama31RopeScaling) {
  const ModelConfig c = MustParse(kLlama31);
  ExpectShape(c, "llama", 128256, 4096, 32, 32, 8, 14336, 128, 131072);
  EXPECT_EQ(c.rope_scaling, RopeScaling::kLlama3);
  EXPECT_EQ(c.rope_factor, 8.0f);
  EXPECT_EQ(c.rope_low_freq_factor, 1.0f);
  EXPECT_EQ(c.rope_high_freq_factor, 4.0f);
  EXPECT_EQ(c.rope_orig_ctx, 8192);
}

TEST(HfConfigTest, Llama32HeadDimAndTied) {
  const ModelConfig c = MustParse(kLlama32);
  ExpectShape(c, "llama", 128256, 2048, 16, 32, 8, 8192, 64, 131072);
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_EQ(c.rope_factor, 32.0f);
}

TEST(HfConfigTest, MistralIsLlamaArch) {
  const ModelConfig c = MustParse(kMistral);
  ExpectShape(c, "llama", 32000, 4096, 32, 32, 8, 14336, 128, 32768);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_FALSE(c.tied_embeddings);
}

TEST(HfConfigTest, Qwen2) {
  const ModelConfig c = MustParse(kQwen2);
  ExpectShape(c, "qwen2", 151936, 896, 24, 14, 2, 4864, 64, 131072);
  EXPECT_EQ(c.norm_eps, 1e-6f);
  EXPECT_EQ(c.rope_theta, 1e6f);
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_TRUE(c.tied_embeddings);
}

TEST(HfConfigTest, Phi3) {
  const ModelConfig c = MustParse(kPhi3);
  ExpectShape(c, "phi3", 32064, 3072, 32, 32, 32, 8192, 96, 4096);
  EXPECT_EQ(c.norm_eps, 1e-5f);
  EXPECT_FALSE(c.tied_embeddings);
  EXPECT_FALSE(c.qkv_bias);
}

TEST(HfConfigTest, Gemma) {
  const ModelConfig c = MustParse(kGemma);
  ExpectShape(c, "gemma", 256000, 2048, 18, 8, 1, 16384, 256, 8192);
  EXPECT_EQ(c.norm_eps, 1e-6f);
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_EQ(c.activation, Activation::kGeluTanh);
  EXPECT_FLOAT_EQ(c.embed_scale, std::sqrt(2048.0f));
}

TEST(HfConfigTest, LinearRopeScalingAndLegacyTypeKey) {
  std::string j = kLlama2;
  j.replace(j.find(R"("rope_scaling": null)"), 20, R"("rope_scaling": {"type": "linear", "factor": 4.0})");
  const ModelConfig c = MustParse(j.c_str());
  EXPECT_EQ(c.rope_scaling, RopeScaling::kLinear);
  EXPECT_EQ(c.rope_factor, 4.0f);
}

// Replaces `"key": old` in a fixture (or appends the key when `old` is empty).
std::string Edit(const char* base, const std::string& from, const std::string& to) {
  std::string j = base;
  if (from.empty()) return j.substr(0, j.rfind('}')) + ", " + to + "}";
  const size_t at = j.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? j : j.replace(at, from.size(), to);
}

struct BadConfig {
  std::string json;
  const char* message;
};

TEST(HfConfigTest, RejectsBadConfigs) {
  const std::vector<BadConfig> cases = {
      {"[1, 2]", "must be a JSON object"},
      {"{\"model_type\": ", "malformed JSON"},
      {Edit(kTinyLlama, R"("model_type": "llama")", R"("model_type": "gemma2")"), "key 'model_type' 'gemma2' is not supported"},
      {Edit(kTinyLlama, R"("model_type": "llama",)", ""), "key 'model_type' is missing"},
      {Edit(kTinyLlama, R"("vocab_size": 32000)", R"("vocab": 32000)"), "key 'vocab_size' is missing"},
      {Edit(kTinyLlama, R"("hidden_size": 2048)", R"("hidden_size": "2048")"), "key 'hidden_size' must be an integer"},
      {Edit(kTinyLlama, R"("hidden_size": 2048)", R"("hidden_size": 2048.0)"), "key 'hidden_size' must be an integer"},
      {Edit(kTinyLlama, R"("num_hidden_layers": 22)", R"("num_hidden_layers": 0)"), "key 'num_hidden_layers' must be in"},
      {Edit(kTinyLlama, R"("num_attention_heads": 32)", R"("num_attention_heads": -32)"), "key 'num_attention_heads' must be in"},
      {Edit(kTinyLlama, R"("intermediate_size": 5632)", R"("intermediate_size": 99999999999)"), "key 'intermediate_size' must be in"},
      {Edit(kTinyLlama, R"("num_attention_heads": 32)", R"("num_attention_heads": 30)"), "key 'hidden_size' 2048 is not divisible by num_attention_heads 30"},
      {Edit(kTinyLlama, R"("num_key_value_heads": 4)", R"("num_key_value_heads": 5)"), "key 'num_key_value_heads' 5 does not divide"},
      {Edit(kTinyLlama, R"("num_key_value_heads": 4)", R"("num_key_value_heads": 64)"), "key 'num_key_value_heads' 64 does not divide"},
      {Edit(kTinyLlama, "", R"("head_dim": 63)"), "key 'head_dim' must be even"},
      {Edit(kTinyLlama, R"("rms_norm_eps": 1e-05)", R"("rms_norm_eps": 0)"), "key 'rms_norm_eps' must be a positive"},
      {Edit(kTinyLlama, R"("rms_norm_eps": 1e-05)", R"("rms_norm_eps": "1e-5")"), "key 'rms_norm_eps' must be a number"},
      {Edit(kTinyLlama, R"("rms_norm_eps": 1e-05)", R"("rms_norm_eps": 2)"), "key 'rms_norm_eps' must be below 1"},
      {Edit(kTinyLlama, R"("rope_theta": 10000.0)", R"("rope_theta": 1e39)"), "key 'rope_theta' must be a positive finite"},
      {Edit(kTinyLlama, R"("rope_theta": 10000.0)", R"("rope_theta": 1e-50)"), "key 'rope_theta' must be a positive finite"},
      {Edit(kTinyLlama, R"("rope_scaling": null)", R"("rope_scaling": [8])"), "key 'rope_scaling' must be an object"},
      {Edit(kTinyLlama, R"("rope_scaling": null)", R"("rope_scaling": {"factor": 2.0})"), "key 'rope_scaling.rope_type' is missing"},
      {Edit(kTinyLlama, R"("rope_scaling": null)", R"("rope_scaling": {"type": "dynamic", "factor": 2.0})"), "'dynamic' is not supported"},
      {Edit(kTinyLlama, R"("rope_scaling": null)", R"("rope_scaling": {"type": "linear", "rope_type": "llama3", "factor": 2.0})"), "key 'rope_scaling.type' 'linear' contradicts"},
      {Edit(kTinyLlama, R"("rope_scaling": null)", R"("rope_scaling": {"type": "linear"})"), "key 'rope_scaling.factor' is missing"},
      {Edit(kTinyLlama, R"("rope_scaling": null)", R"("rope_scaling": {"type": "linear", "factor": -2})"), "key 'rope_scaling.factor' must be a positive"},
      {Edit(kLlama31, R"("low_freq_factor": 1.0, )", ""), "key 'rope_scaling.low_freq_factor' is missing"},
      {Edit(kLlama31, R"("high_freq_factor": 4.0)", R"("high_freq_factor": 1.0)"), "key 'rope_scaling.high_freq_factor' must be greater"},
      {Edit(kLlama31, R"("original_max_position_embeddings": 8192)", R"("original_max_position_embeddings": 0)"), "key 'rope_scaling.original_max_position_embeddings' must be in"},
      {Edit(kTinyLlama, R"("tie_word_embeddings": false)", R"("tie_word_embeddings": "no")"), "key 'tie_word_embeddings' must be true or false"},
      {Edit(kTinyLlama, R"("hidden_act": "silu")", R"("hidden_act": "gelu")"), "key 'hidden_act' 'gelu' is not supported"},
      {Edit(kTinyLlama, R"("hidden_act": "silu")", R"("hidden_act": 3)"), "key 'hidden_act' must be a string"},
      {Edit(kGemma, "", R"("hidden_activation": "relu")"), "key 'hidden_activation' 'relu' is not supported"},
      {Edit(kLlama31, R"("mlp_bias": false)", R"("mlp_bias": true)"), "key 'mlp_bias' true is not supported"},
      {Edit(kTinyLlama, "", R"("partial_rotary_factor": 0.3)"), "key 'partial_rotary_factor' must give an even number"},
      {Edit(kTinyLlama, R"("vocab_size": 32000)", R"("vocab_size": 32000, "vocab_size": 5)"), "duplicate key 'vocab_size'"},
  };
  for (const BadConfig& c : cases) {
    auto r = ConfigFromHfJson(c.json, "/models/x/config.json");
    ASSERT_FALSE(r.ok()) << c.message;
    EXPECT_NE(r.status().message().find(c.message), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().rfind("/models/x/config.json: ", 0), 0u) << r.status().message();
  }
}

TEST(HfConfigTest, PartialRotaryFactor) {
  const ModelConfig c = MustParse(Edit(kPhi3, "", R"("partial_rotary_factor": 0.75)").c_str());
  EXPECT_EQ(c.rope_dim, 72);
  // 1/3 of a head of 12 is 4 dimensions, although 1/3 is not exact in binary.
  const ModelConfig third = MustParse(
      Edit(kTinyLlama, R"("hidden_size": 2048)", R"("hidden_size": 384, "partial_rotary_factor": 0.3333333333333333)")
          .c_str());
  EXPECT_EQ(third.head_dim, 12);
  EXPECT_EQ(third.rope_dim, 4);
  auto text = ConfigToHfJson(third);
  ASSERT_TRUE(text.ok()) << text.status().message();
  EXPECT_EQ(MustParse(text->c_str()).rope_dim, 4);
  EXPECT_FALSE(ConfigFromHfJson(Edit(kTinyLlama, "", R"("partial_rotary_factor": 1e-9)"), "c").ok());
}

TEST(HfConfigTest, WrittenConfigReadsBackTheSame) {
  for (const char* json : {kTinyLlama, kLlama2, kLlama3, kLlama31, kLlama32, kMistral, kQwen2, kPhi3, kGemma}) {
    const ModelConfig c = MustParse(json);
    auto text = ConfigToHfJson(c, {"bfloat16", 1, 2});
    ASSERT_TRUE(text.ok()) << text.status().message();
    const ModelConfig back = MustParse(text->c_str());
    EXPECT_EQ(back.arch, c.arch);
    EXPECT_EQ(back.n_vocab, c.n_vocab);
    EXPECT_EQ(back.n_embd, c.n_embd);
    EXPECT_EQ(back.n_layer, c.n_layer);
    EXPECT_EQ(back.n_head, c.n_head);
    EXPECT_EQ(back.n_head_kv, c.n_head_kv);
    EXPECT_EQ(back.n_ff, c.n_ff);
    EXPECT_EQ(back.head_dim, c.head_dim);
    EXPECT_EQ(back.n_ctx_train, c.n_ctx_train);
    EXPECT_EQ(back.norm_eps, c.norm_eps);
    EXPECT_EQ(back.rope_theta, c.rope_theta);
    EXPECT_EQ(back.rope_scaling, c.rope_scaling);
    EXPECT_EQ(back.rope_factor, c.rope_factor);
    EXPECT_EQ(back.rope_orig_ctx, c.rope_orig_ctx);
    EXPECT_EQ(back.tied_embeddings, c.tied_embeddings);
    EXPECT_EQ(back.qkv_bias, c.qkv_bias);
    EXPECT_EQ(back.activation, c.activation);
    EXPECT_EQ(back.embed_scale, c.embed_scale);
  }
}

TEST(HfConfigTest, WritesTransformersStyleJson) {
  ModelConfig c = MustParse(kTinyLlama);
  c.rope_neox = false;  // a GGUF llama: the layout is the weights' business, not config.json's
  auto text = ConfigToHfJson(c, {"float32", 1, 2});
  ASSERT_TRUE(text.ok()) << text.status().message();
  EXPECT_NE(text->find("{\n  \"architectures\": [\n    \"LlamaForCausalLM\"\n  ],\n  \"attention_bias\": false,"),
            std::string::npos)
      << *text;
  EXPECT_NE(text->find("\"rms_norm_eps\": 1e-05,"), std::string::npos) << *text;
  EXPECT_NE(text->find("\"rope_theta\": 10000.0,"), std::string::npos) << *text;
  EXPECT_NE(text->find("\"rope_scaling\": null,"), std::string::npos) << *text;
  EXPECT_NE(text->find("\"torch_dtype\": \"float32\","), std::string::npos) << *text;
  EXPECT_NE(text->find("\"bos_token_id\": 1,"), std::string::npos) << *text;
}

TEST(HfConfigTest, RefusesWhatConfigJsonCannotExpress) {
  ModelConfig qwen = MustParse(kQwen2);
  qwen.qkv_bias = false;
  auto r = ConfigToHfJson(qwen);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("qkv_bias"), std::string::npos) << r.status().message();

  ModelConfig gemma = MustParse(kGemma);
  gemma.embed_scale = 1.0f;
  EXPECT_FALSE(ConfigToHfJson(gemma).ok());

  ModelConfig phi = MustParse(kPhi3);
  phi.qkv_bias = true;
  EXPECT_FALSE(ConfigToHfJson(phi).ok());

  ModelConfig other = MustParse(kTinyLlama);
  other.arch = "gpt2";
  r = ConfigToHfJson(other);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("gpt2"), std::string::npos);

  ModelConfig empty;
  EXPECT_FALSE(ConfigToHfJson(empty).ok());
}

}  // namespace
}  // namespace leanlm
