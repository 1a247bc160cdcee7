// The tensor type registry. Type ids are ggml's (GGUF stores them), so a file
// written by llama.cpp and one written by leanlm mean the same thing. Each
// row says how a type is laid out (elements per block, bytes per block) and
// how to convert a row to and from F32; quantized block formats add rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/status.h"

namespace leanlm {

enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ4_NL = 20,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
};

inline constexpr uint32_t kMaxTypeId = 256;  // ids we accept at all; leanlm's own formats live above ggml's

using RowToFloatFn = void (*)(const void* src, float* dst, int64_t n);
using RowFromFloatFn = void (*)(const float* src, void* dst, int64_t n);

struct TypeTraits {
  const char* name = nullptr;     // as llama.cpp prints it ("f32", "q4_0", ...)
  int64_t block_size = 0;         // elements per block
  size_t type_size = 0;           // bytes per block
  bool is_quantized = false;
  RowToFloatFn to_float = nullptr;      // n is a multiple of block_size
  RowFromFloatFn from_float = nullptr;  // reference (scalar) quantizer
};

// The registered row for a type id, or nullptr when the id is unknown.
const TypeTraits* FindTypeTraits(uint32_t type_id);
inline const TypeTraits* FindTypeTraits(DType t) { return FindTypeTraits(static_cast<uint32_t>(t)); }
const TypeTraits& GetTypeTraits(DType t);  // CHECKs that t is registered
// Adds or replaces a row; used by format modules at start-up.
void RegisterType(uint32_t type_id, const TypeTraits& traits);

// Looks a type up by its name ("f16", "bf16", ...); case-insensitive.
Result<DType> ParseTypeName(const std::string& name);
const char* TypeName(DType t);

// Bytes of one row of n elements; an error if n is not a multiple of the
// block size or the size overflows.
Result<size_t> RowBytes(DType t, int64_t n);

// Bytes of a tensor with shape ne[0..n_dims), checking every product for
// overflow and every dimension for being positive.
Result<size_t> TensorBytes(DType t, const int64_t* ne, int n_dims);

}  // namespace leanlm
