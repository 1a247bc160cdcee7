// A conversation with a model: its KV cache, position and sampler. Prompt
// tokens are fed as one matrix-matrix batch; generation is one token at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/model.h"
#include "sample/sampler.h"

namespace leanlm {

struct GenerateOptions {
  int64_t n_predict = 128;      // tokens to generate (< 0: until end of generation or the context is full)
  SamplerParams sampler;
  bool stop_at_end = true;      // stop at EOS/EOT (and at BOS, as llama2.c does)
};

struct GenerateStats {
  int64_t n_prompt = 0, n_generated = 0;
  double prompt_seconds = 0, generate_seconds = 0;
  double prompt_tokens_per_second() const { return prompt_seconds > 0 ? n_prompt / prompt_seconds : 0; }
  double generate_tokens_per_second() const { return generate_seconds > 0 ? n_generated / generate_seconds : 0; }
};

class Session {
 public:
  // n_ctx == 0 takes the model's training context. The model's adapters'
  // virtual tokens (LlamaModel::n_virtual) get cache positions on top.
  Session(Model& model, ThreadPool& pool, int64_t n_ctx = 0);

  int64_t position() const { return pos_ + (pending_ >= 0 ? 1 : 0); }
  int64_t n_ctx() const { return cache_.n_ctx() - n_virtual_; }

  // Appends tokens to the context; the last token's logits become current.
  Status Feed(const std::vector<int32_t>& new_tokens);

  // Samples up to options.n_predict tokens, feeding each back; on_text gets
  // the text as it forms (never a partial UTF-8 character).
  Result<GenerateStats> Generate(const GenerateOptions& options, const std::function<void(std::string_view)>& on_text,
                                 std::vector<int32_t>* generated = nullptr);

 private:
  Model& model_;
  ThreadPool& pool_;
  int64_t n_virtual_;  // the adapters' virtual tokens when the session began
  KvCache cache_;
  int64_t pos_ = 0;
  int32_t last_token_ = -1;  // the newest token, fed or pending
  int32_t pending_ = -1;     // sampled last but not yet run through the model
  std::vector<float> logits_;  // (n_vocab) of the last fed token
  double last_feed_seconds_ = 0;
  int64_t last_feed_tokens_ = 0;
};

}  // namespace leanlm
