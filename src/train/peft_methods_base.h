// The base-weight side of the fine-tuning methods (peft_methods.h): F32
// copies of 1-D weights, full fine-tuning's F32 master copies, QLoRA's NF4
// base, and the bounded PCRE2 name matching the selections use.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "train/llama_train_model.h"

namespace leanlm {

// A compiled PCRE2 pattern; Find() searches a name (not a full match) under
// a match limit, so a pathological pattern fails instead of hanging.
class NamePattern {
 public:
  // `what` names the option in errors ("--targets").
  static Result<NamePattern> Compile(const std::string& pattern, const std::string& what);
  Result<bool> Find(const std::string& name) const;

 private:
  struct Code;
  std::shared_ptr<const Code> code_;
  std::string pattern_, what_;
};

// Points every 1-D weight (norms, biases, rope_freqs) of model.weights at an
// F32 copy when stored in another type (the ops take F32 vectors).
void ConvertVectorsToF32(TrainableModel& model);

// Full fine-tuning: each weight whose name `pattern` finds (every weight when
// null) becomes a TrainTensor named by its GGUF name, initialised to the
// weight's F32 value; the view is pointed at it. A tied head shares
// token_embd's tensor. Errors when nothing is selected.
Status MakeWeightsTrainable(TrainableModel& model, const NamePattern* pattern);

// QLoRA: every linear weight of the blocks stored as F32, F16 or BF16 is
// converted to NF4, its block absmax values rounded through bitsandbytes'
// double quantization when double_quant. Rows whose length is not a multiple
// of 64 are zero-padded to one (ne[0] grows; the training graph pads the
// input to match). With `embeddings`, token_embd and the head too (when
// n_embd is a multiple of 64). Already quantized weights stay as loaded.
// Returns the bytes the block linears take afterwards.
int64_t QuantizeBaseNf4(TrainableModel& model, bool double_quant, bool embeddings);

}  // namespace leanlm
