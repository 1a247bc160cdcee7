// Limits the GGUF reader and writer agree on.
#pragma once

#include <cstddef>
#include <cstdint>

namespace leanlm {

// ggml's GGML_MAX_NAME is 64 including the terminating zero.
inline constexpr size_t kGgufMaxTensorName = 63;
// llama.cpp rejects nested arrays; leanlm reads them but bounds the depth so
// a crafted file cannot exhaust the stack.
inline constexpr int kGgufMaxArrayDepth = 8;
// Each parsed value costs ~100 bytes of memory however small its encoding;
// the largest real vocabularies (256k tokens x 3 arrays + merges) use < 2M.
inline constexpr uint64_t kGgufMaxMetadataValues = uint64_t{1} << 23;
// Smallest encodings: key (u64 length + 1 byte) + u32 type + 1-byte value;
// name (u64 + 1) + u32 n_dims + one u64 dim + u32 type + u64 offset.
inline constexpr uint64_t kGgufMinKvBytes = 8 + 1 + 4 + 1;
inline constexpr uint64_t kGgufMinTensorInfoBytes = 8 + 1 + 4 + 8 + 4 + 8;

}  // namespace leanlm
