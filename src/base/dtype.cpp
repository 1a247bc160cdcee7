#include "base/dtype.h"

#include <array>
#include <cstring>
#include <limits>
#include <mutex>
#include <strings.h>

#include "base/fp16.h"
#include "quant/registry.h"

namespace leanlm {
namespace {

// n may be 0 with null pointers (empty rows); memcpy must not see those.
void F32ToFloat(const void* src, float* dst, int64_t n) {
  if (n > 0) std::memcpy(dst, src, n * sizeof(float));
}
void F32FromFloat(const float* src, void* dst, int64_t n) {
  if (n > 0) std::memcpy(dst, src, n * sizeof(float));
}

void F16ToFloat(const void* src, float* dst, int64_t n) {
  const auto* s = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = Fp16ToFp32(s[i]);
}
void F16FromFloat(const float* src, void* dst, int64_t n) {
  auto* d = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = Fp32ToFp16(src[i]);
}
void Bf16ToFloat(const void* src, float* dst, int64_t n) {
  const auto* s = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = Bf16ToFp32(s[i]);
}
void Bf16FromFloat(const float* src, void* dst, int64_t n) {
  auto* d = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = Fp32ToBf16(src[i]);
}

struct Registry {
  std::array<TypeTraits, kMaxTypeId> rows{};
  std::mutex mu;
  Registry() {
    rows[static_cast<uint32_t>(DType::kF32)] = {"f32", 1, 4, false, F32ToFloat, F32FromFloat};
    rows[static_cast<uint32_t>(DType::kF16)] = {"f16", 1, 2, false, F16ToFloat, F16FromFloat};
    rows[static_cast<uint32_t>(DType::kBF16)] = {"bf16", 1, 2, false, Bf16ToFloat, Bf16FromFloat};
    // Integer and f64 tensors can be stored and copied, not computed with.
    rows[static_cast<uint32_t>(DType::kI8)] = {"i8", 1, 1, false, nullptr, nullptr};
    rows[static_cast<uint32_t>(DType::kI16)] = {"i16", 1, 2, false, nullptr, nullptr};
    rows[static_cast<uint32_t>(DType::kI32)] = {"i32", 1, 4, false, nullptr, nullptr};
    rows[static_cast<uint32_t>(DType::kI64)] = {"i64", 1, 8, false, nullptr, nullptr};
    rows[static_cast<uint32_t>(DType::kF64)] = {"f64", 1, 8, false, nullptr, nullptr};
    RegisterBlockFormats(rows);
  }
};

Registry& GetRegistry() {
  static Registry registry;
  return registry;
}

}  // namespace

const TypeTraits* FindTypeTraits(uint32_t type_id) {
  if (type_id >= kMaxTypeId) return nullptr;
  const TypeTraits& row = GetRegistry().rows[type_id];
  return row.name ? &row : nullptr;
}

const TypeTraits& GetTypeTraits(DType t) {
  const TypeTraits* row = FindTypeTraits(t);
  LEANLM_CHECK(row != nullptr);
  return *row;
}

void RegisterType(uint32_t type_id, const TypeTraits& traits) {
  LEANLM_CHECK(type_id < kMaxTypeId && traits.name && traits.block_size > 0 && traits.type_size > 0);
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.rows[type_id] = traits;
}

Result<DType> ParseTypeName(const std::string& name) {
  for (uint32_t id = 0; id < kMaxTypeId; ++id) {
    const TypeTraits* row = FindTypeTraits(id);
    if (row && strcasecmp(row->name, name.c_str()) == 0) return static_cast<DType>(id);
  }
  return Status::Error("unknown tensor type '" + name + "'");
}

const char* TypeName(DType t) {
  const TypeTraits* row = FindTypeTraits(t);
  return row ? row->name : "unknown";
}

Result<size_t> RowBytes(DType t, int64_t n) {
  const TypeTraits* row = FindTypeTraits(t);
  if (!row) return Status::Error("unknown tensor type id " + std::to_string(static_cast<uint32_t>(t)));
  if (n < 0 || n % row->block_size != 0) {
    return Status::Error("row of " + std::to_string(n) + " elements is not a multiple of " + row->name +
                         "'s block size " + std::to_string(row->block_size));
  }
  const uint64_t blocks = static_cast<uint64_t>(n / row->block_size);
  if (blocks > std::numeric_limits<size_t>::max() / row->type_size) return Status::Error("row size overflows");
  return static_cast<size_t>(blocks * row->type_size);
}

Result<size_t> TensorBytes(DType t, const int64_t* ne, int n_dims) {
  if (n_dims < 1 || n_dims > 4) return Status::Error("tensor has " + std::to_string(n_dims) + " dimensions (1..4 allowed)");
  for (int i = 0; i < n_dims; ++i) {
    if (ne[i] <= 0) return Status::Error("dimension " + std::to_string(i) + " is " + std::to_string(ne[i]));
  }
  LEANLM_ASSIGN_OR_RETURN(size_t bytes, RowBytes(t, ne[0]));
  for (int i = 1; i < n_dims; ++i) {
    if (static_cast<uint64_t>(ne[i]) > std::numeric_limits<size_t>::max() / (bytes ? bytes : 1)) {
      return Status::Error("tensor size overflows");
    }
    bytes *= static_cast<size_t>(ne[i]);
  }
  return bytes;
}

}  // namespace leanlm
