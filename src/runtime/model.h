// A model ready to run: weights bound from any format, its tokenizer, and the
// LLaMA forward. The one entry point the commands, server and trainers use.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/model_source.h"
#include "model/llama.h"
#include "tokenizer/tokenizer.h"

namespace leanlm {

struct ModelOptions {
  std::string tokenizer_path;     // a separate tokenizer (llama2.c tokenizer.bin, tokenizer.json, GGUF)
  bool load_into_memory = false;  // copy weights to RAM instead of mapping the file
  bool prefault = false;          // map with MAP_POPULATE so decode never page-faults
  // Re-lay the weights that have packed decode kernels into memory of their
  // own (model/packed_linears.h). With load_into_memory the rest stays mapped
  // then, so no weight is held twice.
  bool pack_weights = true;
  std::vector<std::string> adapters;  // "FILE[:SCALE]": PEFT directories or GGUF LoRAs, applied unmerged
};

class Model {
 public:
  static Result<std::unique_ptr<Model>> Load(const std::string& path, const ModelOptions& options = {});

  const ModelSource& source() const { return source_; }
  const ModelConfig& config() const { return llama_->config(); }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  LlamaModel& llama() { return *llama_; }

  // Loads adapters ("FILE[:SCALE]", see peft/adapter_io.h) for this model and
  // applies them from the next forward on, replacing any before; an empty
  // list removes them. The base weights are not touched.
  Status SetAdapters(const std::vector<std::string>& specs);

 private:
  Model() = default;
  ModelSource source_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<LlamaModel> llama_;
};

}  // namespace leanlm
