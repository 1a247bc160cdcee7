// Adds the block-quantized formats to the tensor type registry. Called once
// by the registry's constructor in base/dtype.cpp (explicitly, because the
// library is static and the linker would drop a self-registering object).
#pragma once

#include <span>

#include "base/dtype.h"

namespace leanlm {

// leanlm's own formats, with ids above ggml's (ggml b4747 ends at 38) and
// below kMaxTypeId. GGUF files written by leanlm with these types are
// readable by leanlm only.
//
//   id   name        block  bytes  layout
//   200  nf4           64     36   fp32 absmax, 4-bit NormalFloat codes (QLoRA / bitsandbytes)
//   201  fp4           64     36   fp32 absmax, bitsandbytes' 4-bit float codes
//   202  int4_g32      32     20   fp16 scale, u8 zero, pad, 4-bit quants   x = (q - zero) * scale
//   203  int4_g64      64     36   same, group of 64
//   204  int4_g128    128     68   same, group of 128
//   205  int8_g32      32     36   fp16 scale, u8 zero, pad, 8-bit quants   x = (q - zero) * scale
//   206  int8_g64      64     68   same, group of 64
//   207  int8_g128    128    132   same, group of 128
inline constexpr DType kNF4 = static_cast<DType>(200);
inline constexpr DType kFP4 = static_cast<DType>(201);
inline constexpr DType kInt4G32 = static_cast<DType>(202);
inline constexpr DType kInt4G64 = static_cast<DType>(203);
inline constexpr DType kInt4G128 = static_cast<DType>(204);
inline constexpr DType kInt8G32 = static_cast<DType>(205);
inline constexpr DType kInt8G64 = static_cast<DType>(206);
inline constexpr DType kInt8G128 = static_cast<DType>(207);

// Fills rows[type_id] for every block format leanlm implements (ggml's ids
// and names: "q4_0", "q4_K", "iq4_nl", "tq1_0", ...) and leanlm's own formats
// above. rows has kMaxTypeId entries.
void RegisterBlockFormats(std::span<TypeTraits> rows);

}  // namespace leanlm
