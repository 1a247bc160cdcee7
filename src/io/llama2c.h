// llama2.c checkpoints: the v0 float32 `.bin` (a 7 x int32 header, then the
// weights in a fixed order) and its tokenizer `.bin`. Q/K use adjacent-pair
// RoPE like llama.cpp's GGUF, so tensors map over without permutation.
#pragma once

#include <string>

#include "io/model_source.h"

namespace leanlm {

Result<ModelSource> LoadLlama2c(const std::string& path, const LoadOptions& options);

}  // namespace leanlm
