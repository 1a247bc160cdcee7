// Model conversion: any loadable format -> GGUF (llama.cpp's names, shapes,
// keys and Q/K layout) or -> a Hugging Face directory.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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

// The row permutation between the two RoPE layouts of a Q or K projection
// (or bias): rows are n_head groups of head_dim. With to_pairs, row
// (h, t * head_dim/2 + i) of the rotate-halves layout moves to row
// (h, 2i + t) — llama.cpp's convert_hf_to_gguf.py permute(); without, the
// inverse. Works for any row type (float or block-quantized rows).
Result<std::vector<uint8_t>> PermuteRopeRows(const TensorView& w, int64_t n_head, bool to_pairs);

}  // namespace leanlm
