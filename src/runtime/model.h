// A model ready to run: weights bound from any format, its tokenizer, and the
// LLaMA forward. The one entry point the commands, server and trainers use.
#pragma once

#include <memory>
#include <string>

#include "io/model_source.h"
#include "model/llama.h"
#include "tokenizer/tokenizer.h"

namespace leanlm {

struct ModelOptions {
  std::string tokenizer_path;     // a separate tokenizer (llama2.c tokenizer.bin, tokenizer.json, GGUF)
  bool load_into_memory = false;  // copy weights to RAM instead of mapping the file
  bool prefault = false;          // map with MAP_POPULATE so decode never page-faults
};

class Model {
 public:
  static Result<std::unique_ptr<Model>> Load(const std::string& path, const ModelOptions& options = {});

  const ModelSource& source() const { return source_; }
  const ModelConfig& config() const { return llama_->config(); }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  LlamaModel& llama() { return *llama_; }

 private:
  Model() = default;
  ModelSource source_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<LlamaModel> llama_;
};

}  // namespace leanlm
