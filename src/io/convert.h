// Model conversion: any loadable format -> GGUF (llama.cpp's names, shapes,
// keys and Q/K layout) or -> a Hugging Face directory.
#pragma once

#include <string>

#include "io/model_source.h"

namespace leanlm {

// Writes `source` as a GGUF v3 file: ConfigToGguf + VocabToGguf + tensors,
// referenced in place. When the source's RoPE layout differs from what
// llama.cpp uses for the architecture (HF llama rotates halves, llama.cpp's
// llama adjacent pairs), Q/K rows are permuted, the only data copied.
// Requires a vocabulary (llama.cpp cannot load a GGUF without one).
Status SaveGguf(const ModelSource& source, const std::string& path);

// Loads `in` (any format) and writes `out`: a path ending in .gguf gets a
// GGUF (SaveGguf), anything else an HF directory (SaveHfDir).
Status ConvertModel(const std::string& in, const std::string& out, const LoadOptions& options);

}  // namespace leanlm
