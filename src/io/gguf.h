// GGUF v2/v3 reading (zero copy over a mapped file) and writing.
// Spec: ggml/docs/gguf.md. Every field of the input is untrusted: counts,
// lengths, types, offsets and shapes are checked before use, and errors name
// the file, the byte offset and what was expected.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/mmap_file.h"
#include "base/status.h"
#include "base/tensor.h"

namespace leanlm {

enum class GgufType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5, kFloat32 = 6,
  kBool = 7, kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11, kFloat64 = 12,
};

// "uint32", "string", ... (as gguf-py names them); "invalid" for unknown ids.
const char* GgufTypeName(GgufType type);

// One metadata value. Scalars keep their GGUF type so a file re-written by
// leanlm keeps the types llama.cpp expects.
struct GgufValue {
  GgufType type = GgufType::kUint32;
  GgufType elem_type = GgufType::kUint8;  // element type when type == kArray
  uint64_t u = 0;    // unsigned integer types and bool
  int64_t i = 0;     // signed integer types
  double f = 0;      // float32 / float64
  std::string str;   // kString
  std::vector<GgufValue> array;  // kArray

  static GgufValue U32(uint32_t v);
  static GgufValue I32(int32_t v);
  static GgufValue U64(uint64_t v);
  static GgufValue F32(float v);
  static GgufValue Bool(bool v);
  static GgufValue Str(std::string v);
  static GgufValue StrArray(const std::vector<std::string>& v);
  static GgufValue F32Array(const std::vector<float>& v);
  static GgufValue I32Array(const std::vector<int32_t>& v);
  static GgufValue U8(uint8_t v);
  static GgufValue I8(int8_t v);
  static GgufValue U16(uint16_t v);
  static GgufValue I16(int16_t v);
  static GgufValue I64(int64_t v);
  static GgufValue F64(double v);
  // An array of `elem_type`; every element must have that type.
  static GgufValue Array(GgufType elem_type, std::vector<GgufValue> elements);

  bool is_integer() const;  // any integer type (not bool)
  bool is_number() const;   // integer or float
  int64_t as_int() const;   // for integer types (and bool)
  double as_float() const;  // for numbers
};

struct GgufTensorInfo {
  std::string name;
  TensorView view;        // data points into the mapped file
  uint64_t offset = 0;    // relative to the start of the data section
};

class GgufFile {
 public:
  // Maps and parses a file. Tensor views stay valid while the GgufFile lives.
  static Result<std::unique_ptr<GgufFile>> Open(const std::string& path,
                                                MappedFile::Mode mode = MappedFile::Mode::kMap);
  // Parses bytes already in memory (the fuzz entry point); `name` is used in
  // error messages. The bytes must outlive the returned object.
  static Result<std::unique_ptr<GgufFile>> Parse(const uint8_t* data, size_t size, const std::string& name);

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  const std::string& name() const { return name_; }
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  uint64_t data_offset() const { return data_offset_; }  // file offset of the data section
  // The file the views point into; null for Parse().
  std::shared_ptr<const MappedFile> file() const { return file_; }

  const GgufValue* Find(const std::string& key) const;   // nullptr if absent
  const GgufTensorInfo* FindTensor(const std::string& name) const;

  // Typed accessors: an error names the key and the type found when the key
  // is missing or has another type.
  Result<std::string> GetString(const std::string& key) const;
  Result<int64_t> GetInt(const std::string& key) const;
  Result<double> GetFloat(const std::string& key) const;
  Result<bool> GetBool(const std::string& key) const;
  Result<std::vector<std::string>> GetStringArray(const std::string& key) const;
  Result<std::vector<float>> GetFloatArray(const std::string& key) const;
  Result<std::vector<int32_t>> GetIntArray(const std::string& key) const;

 private:
  GgufFile() = default;
  std::shared_ptr<MappedFile> file_;
  std::string name_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::map<std::string, size_t> metadata_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

// Builds a GGUF v3 file. Tensor data is referenced, not copied, until Write.
class GgufWriter {
 public:
  void Set(const std::string& key, GgufValue value);  // replaces an existing key, keeps order otherwise
  void SetAlignment(uint64_t alignment);              // also sets general.alignment
  // The view's bytes must stay valid until Write() returns.
  Status AddTensor(const std::string& name, const TensorView& view);

  // A tensor whose bytes are produced while Write() runs, so a file can be
  // written one tensor at a time without holding them all (quantization).
  // At its turn, `fill` must hand `sink` exactly the bytes of a `type` tensor
  // of shape ne[0..n_dims), in order, in as many calls as it likes; an error
  // from either aborts Write() and leaves no file.
  using TensorSink = std::function<Status(const void* data, size_t n)>;
  using TensorFill = std::function<Status(const TensorSink& sink)>;
  Status AddTensor(const std::string& name, DType type, int n_dims, const std::array<int64_t, 4>& ne,
                   TensorFill fill);

  // Writes atomically (temporary file + rename): a failure leaves no file.
  Status Write(const std::string& path) const;

 private:
  Status CheckNewTensor(const std::string& name, const TensorView& shape) const;

  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<std::pair<std::string, TensorView>> tensors_;
  std::vector<TensorFill> fills_;  // per tensor; empty when its view holds the bytes
  uint64_t alignment_ = 32;
};

}  // namespace leanlm
