// Safetensors (Hugging Face's tensor file): an 8-byte little-endian header
// length N, N bytes of JSON
//   {"<name>": {"dtype": "F32", "shape": [rows, cols], "data_offsets": [begin, end]},
//    "__metadata__": {"<key>": "<string>"}}
// then the tensor bytes, offsets counted from the end of the header. Files are
// mapped and tensors are views into the mapping (no copy); shapes are kept in
// PyTorch order (outermost first) and reversed to ggml order by View().
//
// Every field is untrusted: the parser checks the header length against the
// file, the JSON (duplicate keys included), each dtype, shape and offset, and
// that the tensors tile the data area exactly (no overlap, hole or tail), as
// the format's reference implementation requires.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/mmap_file.h"
#include "base/status.h"
#include "base/tensor.h"

namespace leanlm {

inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;  // the reference reader's limit

struct SafetensorsTensor {
  std::string name;
  std::string dtype;               // safetensors' name: "F32", "BF16", "U8", ...
  std::optional<DType> type;       // leanlm's type, absent for U8, BOOL, U16, U32, U64, F8_*
  std::vector<int64_t> shape;      // PyTorch order, outermost first; empty for a scalar
  const uint8_t* data = nullptr;   // aligned to the element size
  size_t bytes = 0;
  uint64_t file_offset = 0;        // where the bytes start in the file, for messages

  int64_t elements() const;
  // A ggml-order view (ne[0] = last PyTorch dimension; a scalar becomes [1]).
  // Errors: a dtype leanlm cannot compute with ("unsupported dtype U8 for
  // tensor x"), more than 4 dimensions, or an empty tensor.
  Result<TensorView> View(const std::string& source) const;
};

class SafetensorsFile {
 public:
  const std::string& source() const { return source_; }
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }  // in data order
  const SafetensorsTensor* Find(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Owns what the tensors point into (the mapping, and aligned copies of any
  // tensor the file stored misaligned); hold it while views are in use.
  std::shared_ptr<const void> keep_alive() const { return owner_; }

 private:
  friend Result<SafetensorsFile> ParseSafetensors(const uint8_t*, size_t, const std::string&);
  friend Result<SafetensorsFile> OpenSafetensors(const std::string&, MappedFile::Mode);
  struct Owner;
  std::string source_;
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
  std::shared_ptr<Owner> owner_;
};

// Parses a whole file image; `data` must outlive the views (the result does
// not own it). `source` names the file in messages.
Result<SafetensorsFile> ParseSafetensors(const uint8_t* data, size_t size, const std::string& source);
Result<SafetensorsFile> OpenSafetensors(const std::string& path, MappedFile::Mode mode = MappedFile::Mode::kMap);

// Writes tensors (ggml-order views; written with PyTorch shapes) and string
// metadata, atomically. Like the reference writer: tensors sorted by dtype
// alignment (largest first) then name, "__metadata__" first in the header, and
// the header padded with spaces to a multiple of 8 bytes so every tensor is
// aligned. Types: F32, F16, BF16, I8, I16, I32, I64, F64 (not block formats).
Status WriteSafetensors(const std::string& path, const std::map<std::string, TensorView>& tensors,
                        const std::map<std::string, std::string>& metadata = {});

}  // namespace leanlm
