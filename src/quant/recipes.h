// Quantization recipes and the per-tensor type choice, as llama.cpp's
// llama-quantize makes them (src/llama-quant.cpp, b4747): which tensors are
// quantized, which type each gets (llama_tensor_get_type: more bits for
// attn_v / ffn_down / output in the K recipes), and the fallback when a row
// does not fit the type's blocks. Same model, same recipe: same types.
//
// Differences from llama.cpp, all deliberate:
//   - leanlm's recipes NF4, FP4, INT4_G*, INT8_G*: every quantizable matrix
//     gets the type (no per-tensor rules); general.file_type is the type id
//     (200..207), a number llama.cpp does not define.
//   - Where llama.cpp gives up ("Unsupported tensor size": a Q4_0..Q8_0 or
//     IQ4_NL tensor whose rows are not a multiple of 32), leanlm falls back to
//     F16, as llama.cpp's own table does for the K-quants.
//   - Rules for architectures and sizes leanlm does not run (Falcon,
//     mixture-of-experts, importance matrices, the IQ1/IQ2/IQ3 recipes) are
//     not carried over.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "base/status.h"

namespace leanlm {

struct Recipe {
  std::string name;        // "Q4_K_M", "NF4", ...
  uint32_t file_type = 0;  // general.file_type: llama.cpp's llama_ftype number
  DType default_type = DType::kF32;
  bool llama_rules = false;  // llama_tensor_get_type applies (llama.cpp's quantized recipes)
};

// A recipe by name, case-insensitive; llama-quantize's aliases Q3_K, Q4_K and
// Q5_K mean Q3_K_M, Q4_K_M and Q5_K_M. The error lists the known names.
Result<Recipe> FindRecipe(const std::string& name);
std::vector<std::string> RecipeNames();

// --tensor-type REGEX=TYPE: tensors whose name the regex finds (search, not
// full match; Perl syntax via PCRE2) get TYPE; the first matching override
// wins, after the recipe.
struct CompiledPattern;  // a PCRE2 pattern, freed with the last copy
struct TensorTypeOverride {
  std::string pattern;
  std::shared_ptr<const CompiledPattern> regex;
  DType type = DType::kF32;
};
Result<TensorTypeOverride> ParseTensorTypeOverride(const std::string& spec);
// Whether the override's regex finds `name`; an error when PCRE2 gives up
// (its match limit bounds the work a pathological pattern can cause).
Result<bool> OverrideMatches(const TensorTypeOverride& o, const std::string& name);

// What the rules consult about the model.
struct ModelShape {
  std::string arch = "llama";
  int64_t n_layer = 0, n_head = 0, n_head_kv = 0;
};

struct TensorDesc {
  std::string name;
  DType type = DType::kF32;
  int n_dims = 0;
  std::array<int64_t, 4> ne{1, 1, 1, 1};
};

struct TensorPlan {
  TensorDesc in;
  DType out = DType::kF32;     // the type written
  DType wanted = DType::kF32;  // the type chosen before the row-size fallback
  bool convert = false;        // false: the bytes are copied unchanged
  bool fallback() const { return convert && wanted != out; }
};

struct PlanOptions {
  Recipe recipe;
  std::vector<TensorTypeOverride> overrides;
  bool keep_output = false;  // llama-quantize --leave-output-tensor
};

// The tensors in llama.cpp's output order (non-block tensors first, then by
// layer; by name within each) with their types. Errors name the tensor when
// a type it would need cannot be produced.
Result<std::vector<TensorPlan>> PlanQuantization(const std::vector<TensorDesc>& tensors, const ModelShape& shape,
                                                 const PlanOptions& options);

// One line per distinct fallback (wanted type, written type, row length),
// e.g. "3 tensors with rows of 172: q4_K -> f16 (...)".
std::vector<std::string> DescribeFallbacks(const std::vector<TensorPlan>& plan);

}  // namespace leanlm
