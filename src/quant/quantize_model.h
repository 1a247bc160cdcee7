// leanlm quantize: a model in, a GGUF with llama.cpp's recipe types out.
// The input may be a GGUF of any registered type (quantized tensors are
// dequantized to F32 row by row and re-quantized, so leanlm-only types can be
// re-encoded to ggml's), a Hugging Face directory or a llama2.c checkpoint.
// Memory stays bounded: the output is written tensor by tensor from a chunk
// of rows at a time, never the whole model (the input is mapped, not read
// in). A non-GGUF input first becomes the GGUF `leanlm convert` writes (next
// to the output, removed afterwards; for a Hugging Face directory SaveGguf
// holds its re-permuted Q/K rows in memory while writing it). The output file
// appears only when complete (temporary file + rename).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "quant/recipes.h"

namespace leanlm {

struct QuantizeOptions {
  std::string recipe;                             // recipe name (Q4_K_M, Q8_0, F16, NF4, ...), case-insensitive
  std::vector<std::string> tensor_types;          // "REGEX=TYPE" overrides, first match wins, after the recipe
  bool keep_output = false;                       // output.weight stays as in the input (--leave-output-tensor)
  int n_threads = 0;                              // 0: the machine's cores
  std::string tokenizer_path;                     // for inputs without a vocabulary (llama2.c)
  int64_t max_chunk_elements = int64_t{1} << 22;  // rows converted at a time: bounds the memory used
};

struct QuantizeReport {
  Recipe recipe;
  std::vector<TensorPlan> tensors;       // in output order
  std::vector<std::string> fallbacks;    // DescribeFallbacks
  uint64_t bytes_in = 0, bytes_out = 0;  // tensor data
  int64_t n_elements = 0;                // all tensors
  double bits_per_weight() const { return n_elements > 0 ? 8.0 * static_cast<double>(bytes_out) / n_elements : 0; }
};

// Writes `out`. Metadata is copied from the input (for non-GGUF inputs: what
// `leanlm convert` writes), plus general.quantization_version = 2 and
// general.file_type = the recipe's llama_ftype, as llama.cpp does. Fallbacks
// are logged as warnings; `report` (optional) receives what was done.
Status QuantizeModel(const std::string& in, const std::string& out, const QuantizeOptions& options,
                     QuantizeReport* report = nullptr);

}  // namespace leanlm
