// GGUF v3 writing: the header, metadata and tensor infos are serialized into
// memory (they are small), then the tensor data is streamed from the views or
// fill functions, each tensor padded to the alignment as llama.cpp does.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "io/gguf.h"
#include "io/gguf_limits.h"
#include "io/utf8_check.h"

namespace leanlm {
namespace {

uint64_t AlignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

class ByteSink {
 public:
  template <typename T>
  void Put(T v) {
    const size_t at = bytes_.size();
    bytes_.resize(at + sizeof(T));
    std::memcpy(bytes_.data() + at, &v, sizeof(T));
  }
  void PutString(const std::string& s) {
    Put<uint64_t>(s.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

Status WriteValue(const GgufValue& v, GgufType type, const std::string& key, int depth, ByteSink& out) {
  if (v.type != type) {
    return Status::Error("GGUF key '" + key + "': array element has type " + GgufTypeName(v.type) +
                         " but the array holds " + GgufTypeName(type));
  }
  switch (type) {
    case GgufType::kUint8: out.Put(static_cast<uint8_t>(v.u)); break;
    case GgufType::kUint16: out.Put(static_cast<uint16_t>(v.u)); break;
    case GgufType::kUint32: out.Put(static_cast<uint32_t>(v.u)); break;
    case GgufType::kUint64: out.Put(static_cast<uint64_t>(v.u)); break;
    case GgufType::kInt8: out.Put(static_cast<int8_t>(v.i)); break;
    case GgufType::kInt16: out.Put(static_cast<int16_t>(v.i)); break;
    case GgufType::kInt32: out.Put(static_cast<int32_t>(v.i)); break;
    case GgufType::kInt64: out.Put(static_cast<int64_t>(v.i)); break;
    case GgufType::kFloat32: out.Put(static_cast<float>(v.f)); break;
    case GgufType::kFloat64: out.Put(v.f); break;
    case GgufType::kBool: out.Put(static_cast<uint8_t>(v.u != 0 ? 1 : 0)); break;
    case GgufType::kString:
      if (!IsValidUtf8(v.str)) return Status::Error("GGUF key '" + key + "': string value is not valid UTF-8");
      out.PutString(v.str);
      break;
    case GgufType::kArray:
      if (depth >= kGgufMaxArrayDepth) {
        return Status::Error("GGUF key '" + key + "': arrays nested deeper than " +
                             std::to_string(kGgufMaxArrayDepth) + " levels");
      }
      if (static_cast<uint32_t>(v.elem_type) > static_cast<uint32_t>(GgufType::kFloat64)) {
        return Status::Error("GGUF key '" + key + "': invalid array element type");
      }
      out.Put(static_cast<uint32_t>(v.elem_type));
      out.Put<uint64_t>(v.array.size());
      for (const GgufValue& e : v.array) LEANLM_RETURN_IF_ERROR(WriteValue(e, v.elem_type, key, depth + 1, out));
      break;
    default:
      return Status::Error("GGUF key '" + key + "': invalid value type " +
                           std::to_string(static_cast<uint32_t>(type)));
  }
  return Status::Ok();
}

}  // namespace

void GgufWriter::Set(const std::string& key, GgufValue value) {
  if (key == "general.alignment" && value.type == GgufType::kUint32) alignment_ = value.u;
  for (auto& kv : metadata_) {
    if (kv.first == key) {
      kv.second = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(key, std::move(value));
}

void GgufWriter::SetAlignment(uint64_t alignment) {
  alignment_ = alignment;
  Set("general.alignment", GgufValue::U32(static_cast<uint32_t>(alignment)));
}

Status GgufWriter::CheckNewTensor(const std::string& name, const TensorView& shape) const {
  if (name.empty() || name.size() > kGgufMaxTensorName || !IsValidUtf8(name)) {
    return Status::Error("GGUF tensor name '" + name + "' must be 1.." + std::to_string(kGgufMaxTensorName) +
                         " bytes of UTF-8");
  }
  for (const auto& t : tensors_) {
    if (t.first == name) return Status::Error("GGUF tensor '" + name + "' added twice");
  }
  if (shape.n_dims < 1 || shape.n_dims > 4) {
    return Status::Error("GGUF tensor '" + name + "' has " + std::to_string(shape.n_dims) +
                         " dimensions (expected 1..4)");
  }
  Result<size_t> bytes = TensorBytes(shape.type, shape.ne.data(), shape.n_dims);
  if (!bytes.ok()) return bytes.status().WithContext("GGUF tensor '" + name + "' " + shape.shape_string());
  return Status::Ok();
}

Status GgufWriter::AddTensor(const std::string& name, const TensorView& view) {
  if (!view.valid()) return Status::Error("GGUF tensor '" + name + "' has no data");
  LEANLM_RETURN_IF_ERROR(CheckNewTensor(name, view));
  tensors_.emplace_back(name, view);
  fills_.emplace_back();
  return Status::Ok();
}

Status GgufWriter::AddTensor(const std::string& name, DType type, int n_dims, const std::array<int64_t, 4>& ne,
                             TensorFill fill) {
  if (!fill) return Status::Error("GGUF tensor '" + name + "' has no fill function");
  TensorView shape;
  shape.type = type;
  shape.n_dims = n_dims;
  shape.ne = ne;
  for (int d = std::max(n_dims, 0); d < 4; ++d) shape.ne[d] = 1;
  LEANLM_RETURN_IF_ERROR(CheckNewTensor(name, shape));
  tensors_.emplace_back(name, shape);
  fills_.push_back(std::move(fill));
  return Status::Ok();
}

Status GgufWriter::Write(const std::string& path) const {
  if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0 || alignment_ > (uint64_t{1} << 31)) {
    return Status::Error(path + ": GGUF alignment " + std::to_string(alignment_) + " is not a power of two");
  }
  for (const auto& [key, value] : metadata_) {
    if (key == "general.alignment" && (value.type != GgufType::kUint32 || value.u != alignment_)) {
      return Status::Error(path + ": general.alignment must be the uint32 " + std::to_string(alignment_));
    }
  }
  ByteSink head;
  head.Put<uint32_t>(0x46554747u);  // "GGUF"
  head.Put<uint32_t>(3);
  head.Put<uint64_t>(tensors_.size());
  head.Put<uint64_t>(metadata_.size());
  for (const auto& [key, value] : metadata_) {
    if (key.empty() || !IsValidUtf8(key)) return Status::Error(path + ": GGUF key '" + key + "' is not valid UTF-8");
    head.PutString(key);
    head.Put(static_cast<uint32_t>(value.type));
    LEANLM_RETURN_IF_ERROR(WriteValue(value, value.type, key, 0, head).WithContext(path));
  }
  uint64_t offset = 0;
  for (const auto& [name, view] : tensors_) {
    head.PutString(name);
    head.Put<uint32_t>(static_cast<uint32_t>(view.n_dims));
    for (int d = 0; d < view.n_dims; ++d) head.Put<uint64_t>(static_cast<uint64_t>(view.ne[d]));
    head.Put<uint32_t>(static_cast<uint32_t>(view.type));
    head.Put<uint64_t>(offset);
    offset = AlignUp(offset + view.bytes(), alignment_);
  }

  LEANLM_ASSIGN_OR_RETURN(std::unique_ptr<AtomicFileWriter> file, AtomicFileWriter::Create(path));
  LEANLM_RETURN_IF_ERROR(file->Write(head.bytes().data(), head.bytes().size()));
  if (!tensors_.empty()) {
    LEANLM_RETURN_IF_ERROR(file->WriteZeros(AlignUp(file->offset(), alignment_) - file->offset()));
    const uint64_t data_start = file->offset();
    for (size_t t = 0; t < tensors_.size(); ++t) {
      const std::string& name = tensors_[t].first;  // not a structured binding: clang 14 cannot capture those
      const TensorView& view = tensors_[t].second;
      const size_t bytes = view.bytes();
      if (fills_[t]) {
        size_t written = 0;
        const TensorSink sink = [&](const void* data, size_t n) -> Status {
          if (n > bytes - written) {
            return Status::Error("GGUF tensor '" + name + "': the fill function gave more than its " +
                                 std::to_string(bytes) + " bytes");
          }
          written += n;
          return file->Write(data, n);
        };
        LEANLM_RETURN_IF_ERROR(fills_[t](sink).WithContext(path));
        if (written != bytes) {
          return Status::Error(path + ": GGUF tensor '" + name + "': the fill function gave " +
                               std::to_string(written) + " of its " + std::to_string(bytes) + " bytes");
        }
      } else {
        LEANLM_RETURN_IF_ERROR(file->Write(view.data, bytes));
      }
      const uint64_t used = file->offset() - data_start;
      LEANLM_RETURN_IF_ERROR(file->WriteZeros(AlignUp(used, alignment_) - used));
    }
  }
  return file->Commit();
}

}  // namespace leanlm
