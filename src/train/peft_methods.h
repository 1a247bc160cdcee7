// Fine-tuning methods: which tensors of a LLaMA model train and how they
// start. Each builds a TrainableModel (llama_train_model.h) over a frozen
// base and can hand its result to the PEFT adapter types (peft/adapter.h)
// that the file writers save.
//
//   full      every weight, or those whose GGUF name a regex finds, as F32
//             master copies (the rest stays frozen in its own type)
//   lora      A (ne {in, r}) ~ U(±1/sqrt(in)) — PEFT's kaiming_uniform(a=√5) —
//             and B = 0 on the target linears; s = alpha / r (rsLoRA: / sqrt r)
//   dora      lora plus DoRA's magnitude, initialised to ‖W‖ per output row
//   qlora     lora over a base whose linear weights are held in NF4 (blocks of
//             64, absmax rounded through QLoRA's double quantization; odd row
//             lengths zero-padded), or in the quantized type they were loaded
//             with: no F16/F32 copy
//   adapter   Houlsby bottlenecks after attention and/or the MLP: down
//             ~ U(±1/sqrt(n_embd)), biases 0, up = 0 (starts as the identity)
//   prompt    n_virtual learned input embeddings, initialised from the
//             embeddings of random vocabulary tokens
//   prefix    per-layer key/value prefixes through PEFT's reparameterization
//             MLP (prefix_projection): embedding ~ N(0, 1), tanh, nn.Linear init
//   ptuning2  P-tuning v2's deep prompts: per-layer key/value prefixes trained
//             directly (PEFT's prefix tuning without projection), initialised
//             to the keys and values the base model computes for random tokens
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "model/config.h"
#include "model/weights.h"
#include "peft/adapter.h"
#include "train/llama_train_model.h"

namespace leanlm {

enum class TrainMethod { kFull, kLora, kDora, kQlora, kAdapter, kPrompt, kPrefix, kPtuning2 };

// "full", "lora", ...; the error lists the names.
Result<TrainMethod> ParseTrainMethod(const std::string& name);
const char* TrainMethodName(TrainMethod method);

struct MethodOptions {
  TrainMethod method = TrainMethod::kLora;
  uint64_t seed = 0;  // initialisation

  // full: a regex (PCRE2, search) over GGUF names; empty: every tensor.
  std::string full_pattern;

  // lora, dora, qlora
  int64_t r = 8;
  float alpha = 16;
  float dropout = 0;
  bool rslora = false;
  // Short names q,k,v,o,gate,up,down (or attn_q.., q_proj..); ignored when
  // target_pattern, a regex over "blk.N.attn_q.weight"-style names, is set.
  std::vector<std::string> targets = {"q", "k", "v", "o"};
  std::string target_pattern;
  bool dora_detach_norm = false;  // true: PEFT's constant norm in the backward
  bool qlora_double_quant = true;
  bool qlora_embeddings = false;  // also token_embd and the head in NF4 (QLoRA keeps them 16-bit)

  // adapter
  int64_t bottleneck = 16;
  bool adapter_attn = true;
  bool adapter_ffn = true;

  // prompt, prefix, ptuning2
  int64_t n_virtual = 10;
  int64_t prefix_hidden = 0;  // prefix: the MLP's hidden width; 0 = n_embd
};

// Builds the trainable model of `options` over `base` (views stay valid as
// long as the base does; qlora's NF4 copies and 1-D F32 copies are owned).
// Errors name the option: an unknown target, a regex that does not compile
// or selects nothing, r or n_virtual out of range.
Result<std::unique_ptr<TrainableModel>> BuildTrainableModel(const ModelConfig& config, const ModelWeights& base,
                                                            const MethodOptions& options, ThreadPool& pool);

// "trainable 12,345 / 1,234,567 parameters (1.00%)".
std::string DescribeTrainable(const TrainableModel& model);

// The trained parameters as a PEFT adapter (lora, dora, qlora: LoraAdapter;
// prompt: PromptAdapter; prefix, ptuning2: PrefixAdapter with the keys and
// values the prefix produces). full and adapter have no PEFT form: an error.
Result<Adapter> ExportAdapter(const TrainableModel& model, const MethodOptions& options, ThreadPool& pool);

}  // namespace leanlm
