// llama2.c checkpoints: the v0 float32 `.bin` (a 7 x int32 header, then the
// weights in a fixed order) and its tokenizer `.bin`. Q/K use adjacent-pair
// RoPE like llama.cpp's GGUF, so tensors map over without permutation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "io/model_source.h"

namespace leanlm {

Result<ModelSource> LoadLlama2c(const std::string& path, const LoadOptions& options);

// Checks that `header` (the file's first bytes) is a plausible v0 header and
// that the weights it describes fill exactly `file_size` bytes; format
// detection uses it, and the error says which field or size is off.
Status CheckLlama2cHeader(const uint8_t* header, size_t header_bytes, uint64_t file_size, const std::string& path);

}  // namespace leanlm
