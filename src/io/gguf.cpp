// GGUF reading. Layout (little-endian, v2/v3): "GGUF", u32 version,
// u64 n_tensors, u64 n_kv, n_kv x (string key, u32 type, value),
// n_tensors x (string name, u32 n_dims, u64 ne[n_dims], u32 ggml type,
// u64 offset), padding to the alignment, then the data section. Strings are
// u64 length + bytes; arrays are u32 element type + u64 count + elements.
#include "io/gguf.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>

#include "io/gguf_limits.h"
#include "io/utf8_check.h"

namespace leanlm {
namespace {

// Smallest encoding of one value of a type: bounds an array's element count
// by the bytes left before anything is allocated.
size_t MinValueBytes(GgufType t) {
  switch (t) {
    case GgufType::kUint8: case GgufType::kInt8: case GgufType::kBool: return 1;
    case GgufType::kUint16: case GgufType::kInt16: return 2;
    case GgufType::kUint32: case GgufType::kInt32: case GgufType::kFloat32: return 4;
    case GgufType::kUint64: case GgufType::kInt64: case GgufType::kFloat64: return 8;
    case GgufType::kString: return 8;      // u64 length, empty string
    case GgufType::kArray: return 4 + 8;   // element type + count, empty array
  }
  return 1;
}

bool IsKnownType(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::kFloat64); }

std::string Quote(std::string_view s) {
  // Keys in messages are cut short and kept printable.
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < 80; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (s.size() > 80) out += "...";
  return out + "'";
}

// Bounds-checked little-endian cursor over the file's bytes.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const std::string& name) : data_(data), size_(size), name_(name) {}

  size_t offset() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  Status Error(size_t at, const std::string& what) const {
    return Status::Error(name_ + ": at byte " + std::to_string(at) + ": " + what);
  }

  template <typename T>
  Status Read(T* out, const std::string& what) {
    if (remaining() < sizeof(T)) {
      return Error(pos_, "file ends inside " + what + " (expected " + std::to_string(sizeof(T)) + " bytes, " +
                             std::to_string(remaining()) + " left)");
    }
    std::memcpy(out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }

  // A u64-length string, checked against the bytes left and for UTF-8.
  Status ReadString(std::string* out, const std::string& what) {
    const size_t at = pos_;
    uint64_t len = 0;
    LEANLM_RETURN_IF_ERROR(Read(&len, "the length of " + what));
    if (len > remaining()) {
      return Error(at, what + " has length " + std::to_string(len) + " but only " + std::to_string(remaining()) +
                           " bytes are left in the file");
    }
    std::string_view s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(len));
    const size_t bad = FindInvalidUtf8(s);
    if (bad != s.size()) {
      return Error(pos_ + bad, what + " is not valid UTF-8 (bad byte " + std::to_string(bad) + " of " +
                                   std::to_string(len) + ")");
    }
    out->assign(s);
    pos_ += static_cast<size_t>(len);
    return Status::Ok();
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& name_;
};

class MetadataParser {
 public:
  explicit MetadataParser(Reader& r) : r_(r) {}

  Status ParseValue(GgufType type, const std::string& key, int depth, GgufValue* out) {
    if (++values_ > kGgufMaxMetadataValues) {
      return r_.Error(r_.offset(), "key " + Quote(key) + ": more than " + std::to_string(kGgufMaxMetadataValues) +
                                       " metadata values in the file");
    }
    out->type = type;
    const std::string what = "the value of key " + Quote(key);
    switch (type) {
      case GgufType::kUint8: return ReadUnsigned<uint8_t>(what, out);
      case GgufType::kUint16: return ReadUnsigned<uint16_t>(what, out);
      case GgufType::kUint32: return ReadUnsigned<uint32_t>(what, out);
      case GgufType::kUint64: return ReadUnsigned<uint64_t>(what, out);
      case GgufType::kInt8: return ReadSigned<int8_t>(what, out);
      case GgufType::kInt16: return ReadSigned<int16_t>(what, out);
      case GgufType::kInt32: return ReadSigned<int32_t>(what, out);
      case GgufType::kInt64: return ReadSigned<int64_t>(what, out);
      case GgufType::kFloat32: {
        float v = 0;
        LEANLM_RETURN_IF_ERROR(r_.Read(&v, what));
        out->f = v;
        return Status::Ok();
      }
      case GgufType::kFloat64: return r_.Read(&out->f, what);
      case GgufType::kBool: {
        const size_t at = r_.offset();
        uint8_t v = 0;
        LEANLM_RETURN_IF_ERROR(r_.Read(&v, what));
        if (v > 1) return r_.Error(at, what + " is a bool stored as " + std::to_string(v) + " (expected 0 or 1)");
        out->u = v;
        return Status::Ok();
      }
      case GgufType::kString: return r_.ReadString(&out->str, what);
      case GgufType::kArray: return ParseArray(key, depth, out);
    }
    return r_.Error(r_.offset(), "internal: unhandled type");
  }

 private:
  template <typename T>
  Status ReadUnsigned(const std::string& what, GgufValue* out) {
    T v = 0;
    LEANLM_RETURN_IF_ERROR(r_.Read(&v, what));
    out->u = v;
    return Status::Ok();
  }
  template <typename T>
  Status ReadSigned(const std::string& what, GgufValue* out) {
    T v = 0;
    LEANLM_RETURN_IF_ERROR(r_.Read(&v, what));
    out->i = v;
    return Status::Ok();
  }

  Status ParseArray(const std::string& key, int depth, GgufValue* out) {
    if (depth >= kGgufMaxArrayDepth) {
      return r_.Error(r_.offset(), "key " + Quote(key) + ": arrays nested deeper than " +
                                       std::to_string(kGgufMaxArrayDepth) + " levels");
    }
    const size_t at = r_.offset();
    uint32_t elem = 0;
    LEANLM_RETURN_IF_ERROR(r_.Read(&elem, "the element type of key " + Quote(key)));
    if (!IsKnownType(elem)) {
      return r_.Error(at, "key " + Quote(key) + ": unknown array element type " + std::to_string(elem) +
                              " (expected 0..12)");
    }
    out->elem_type = static_cast<GgufType>(elem);
    const size_t count_at = r_.offset();
    uint64_t count = 0;
    LEANLM_RETURN_IF_ERROR(r_.Read(&count, "the element count of key " + Quote(key)));
    const size_t min_bytes = MinValueBytes(out->elem_type);
    if (count > r_.remaining() / min_bytes) {
      return r_.Error(count_at, "key " + Quote(key) + ": array of " + std::to_string(count) + " " +
                                    GgufTypeName(out->elem_type) + " values cannot fit in the " +
                                    std::to_string(r_.remaining()) + " bytes left in the file");
    }
    if (count > kGgufMaxMetadataValues - std::min(values_, kGgufMaxMetadataValues)) {
      return r_.Error(count_at, "key " + Quote(key) + ": array of " + std::to_string(count) +
                                    " values exceeds the limit of " + std::to_string(kGgufMaxMetadataValues) +
                                    " metadata values");
    }
    out->array.resize(static_cast<size_t>(count));
    for (auto& v : out->array) LEANLM_RETURN_IF_ERROR(ParseValue(out->elem_type, key, depth + 1, &v));
    return Status::Ok();
  }

  Reader& r_;
  uint64_t values_ = 0;
};

uint64_t AlignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

const char* GgufTypeName(GgufType type) {
  switch (type) {
    case GgufType::kUint8: return "uint8";
    case GgufType::kInt8: return "int8";
    case GgufType::kUint16: return "uint16";
    case GgufType::kInt16: return "int16";
    case GgufType::kUint32: return "uint32";
    case GgufType::kInt32: return "int32";
    case GgufType::kFloat32: return "float32";
    case GgufType::kBool: return "bool";
    case GgufType::kString: return "string";
    case GgufType::kArray: return "array";
    case GgufType::kUint64: return "uint64";
    case GgufType::kInt64: return "int64";
    case GgufType::kFloat64: return "float64";
  }
  return "invalid";
}

Result<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path, MappedFile::Mode mode) {
  LEANLM_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> file, MappedFile::Open(path, mode));
  LEANLM_ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> gguf, Parse(file->data(), file->size(), path));
  gguf->file_ = std::move(file);
  return gguf;
}

Result<std::unique_ptr<GgufFile>> GgufFile::Parse(const uint8_t* data, size_t size, const std::string& name) {
  std::unique_ptr<GgufFile> g(new GgufFile());
  g->name_ = name;
  Reader r(data, size, g->name_);

  uint32_t magic = 0;
  LEANLM_RETURN_IF_ERROR(r.Read(&magic, "the magic 'GGUF'"));
  if (std::memcmp(&magic, "GGUF", 4) != 0) {
    char got[5] = {};
    std::memcpy(got, &magic, 4);
    return r.Error(0, "bad magic " + Quote(std::string_view(got, 4)) + " (expected 'GGUF')");
  }
  LEANLM_RETURN_IF_ERROR(r.Read(&g->version_, "the version"));
  if (g->version_ != 2 && g->version_ != 3) {
    return r.Error(4, "unsupported GGUF version " + std::to_string(g->version_) + " (expected 2 or 3)");
  }
  uint64_t n_tensors = 0, n_kv = 0;
  const size_t n_tensors_at = r.offset();
  LEANLM_RETURN_IF_ERROR(r.Read(&n_tensors, "the tensor count"));
  const size_t n_kv_at = r.offset();
  LEANLM_RETURN_IF_ERROR(r.Read(&n_kv, "the metadata count"));
  if (n_kv > r.remaining() / kGgufMinKvBytes) {
    return r.Error(n_kv_at, std::to_string(n_kv) + " metadata entries cannot fit in the " +
                                std::to_string(r.remaining()) + " bytes left in the file");
  }

  // Metadata.
  MetadataParser parser(r);
  for (uint64_t k = 0; k < n_kv; ++k) {
    const size_t key_at = r.offset();
    std::string key;
    LEANLM_RETURN_IF_ERROR(r.ReadString(&key, "key " + std::to_string(k)));
    if (key.empty()) return r.Error(key_at, "key " + std::to_string(k) + " is empty");
    if (g->metadata_index_.count(key)) return r.Error(key_at, "duplicate key " + Quote(key));
    const size_t type_at = r.offset();
    uint32_t type = 0;
    LEANLM_RETURN_IF_ERROR(r.Read(&type, "the type of key " + Quote(key)));
    if (!IsKnownType(type)) {
      return r.Error(type_at, "key " + Quote(key) + " has unknown value type " + std::to_string(type) +
                                  " (expected 0..12)");
    }
    GgufValue value;
    LEANLM_RETURN_IF_ERROR(parser.ParseValue(static_cast<GgufType>(type), key, 0, &value));
    g->metadata_index_.emplace(key, g->metadata_.size());
    g->metadata_.emplace_back(std::move(key), std::move(value));
  }

  if (const GgufValue* a = g->Find("general.alignment")) {
    if (a->type != GgufType::kUint32) {
      return Status::Error(name + ": key 'general.alignment' has type " + GgufTypeName(a->type) +
                           " (expected uint32)");
    }
    if (a->u == 0 || (a->u & (a->u - 1)) != 0) {
      return Status::Error(name + ": general.alignment is " + std::to_string(a->u) +
                           " (expected a power of two)");
    }
    g->alignment_ = a->u;
  }

  // Tensor infos. Vectors grow with what was actually parsed, never from a count.
  if (n_tensors > r.remaining() / kGgufMinTensorInfoBytes) {
    return r.Error(n_tensors_at, std::to_string(n_tensors) + " tensor infos cannot fit in the " +
                                     std::to_string(r.remaining()) + " bytes left in the file");
  }
  for (uint64_t t = 0; t < n_tensors; ++t) {
    const size_t info_at = r.offset();
    GgufTensorInfo info;
    LEANLM_RETURN_IF_ERROR(r.ReadString(&info.name, "the name of tensor " + std::to_string(t)));
    if (info.name.empty() || info.name.size() > kGgufMaxTensorName) {
      return r.Error(info_at, "tensor " + std::to_string(t) + " has a name of " + std::to_string(info.name.size()) +
                                  " bytes (expected 1.." + std::to_string(kGgufMaxTensorName) + ")");
    }
    if (g->tensor_index_.count(info.name)) return r.Error(info_at, "duplicate tensor name " + Quote(info.name));
    const std::string what = "tensor " + Quote(info.name);
    const size_t dims_at = r.offset();
    uint32_t n_dims = 0;
    LEANLM_RETURN_IF_ERROR(r.Read(&n_dims, "the dimension count of " + what));
    if (n_dims < 1 || n_dims > 4) {
      return r.Error(dims_at, what + " has " + std::to_string(n_dims) + " dimensions (expected 1..4)");
    }
    info.view.n_dims = static_cast<int>(n_dims);
    for (uint32_t d = 0; d < n_dims; ++d) {
      const size_t ne_at = r.offset();
      uint64_t ne = 0;
      LEANLM_RETURN_IF_ERROR(r.Read(&ne, "dimension " + std::to_string(d) + " of " + what));
      if (ne == 0 || ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return r.Error(ne_at, what + " dimension " + std::to_string(d) + " is " + std::to_string(ne) +
                                  " (expected 1..2^63-1)");
      }
      info.view.ne[d] = static_cast<int64_t>(ne);
    }
    const size_t type_at = r.offset();
    uint32_t type = 0;
    LEANLM_RETURN_IF_ERROR(r.Read(&type, "the type of " + what));
    if (FindTypeTraits(type) == nullptr) {
      return r.Error(type_at, what + " has unknown ggml type id " + std::to_string(type));
    }
    info.view.type = static_cast<DType>(type);
    Result<size_t> bytes = TensorBytes(info.view.type, info.view.ne.data(), info.view.n_dims);
    if (!bytes.ok()) return r.Error(dims_at, what + " " + info.view.shape_string() + ": " + bytes.status().message());
    const size_t offset_at = r.offset();
    LEANLM_RETURN_IF_ERROR(r.Read(&info.offset, "the data offset of " + what));
    if (info.offset % g->alignment_ != 0) {
      return r.Error(offset_at, what + " has data offset " + std::to_string(info.offset) +
                                    ", not a multiple of the alignment " + std::to_string(g->alignment_));
    }
    g->tensor_index_.emplace(info.name, g->tensors_.size());
    g->tensors_.push_back(std::move(info));
  }

  // Data section: starts at the next multiple of the alignment.
  const uint64_t header_end = r.offset();
  g->data_offset_ = AlignUp(header_end, g->alignment_);
  if (g->tensors_.empty()) return g;
  if (g->data_offset_ > size) {
    return r.Error(header_end, "the data section should start at byte " + std::to_string(g->data_offset_) +
                                   " but the file has " + std::to_string(size) + " bytes");
  }
  const uint64_t data_size = size - g->data_offset_;
  std::vector<std::pair<uint64_t, size_t>> by_offset;  // (offset, tensor index)
  by_offset.reserve(g->tensors_.size());
  for (size_t t = 0; t < g->tensors_.size(); ++t) {
    GgufTensorInfo& info = g->tensors_[t];
    const size_t bytes = info.view.bytes();
    if (info.offset > data_size || bytes > data_size - info.offset) {
      return Status::Error(name + ": tensor " + Quote(info.name) + " " + info.view.shape_string() + " " +
                           TypeName(info.view.type) + " needs bytes [" + std::to_string(info.offset) + ", " +
                           std::to_string(info.offset) + "+" + std::to_string(bytes) +
                           ") of the data section at byte " + std::to_string(g->data_offset_) + ", which has " +
                           std::to_string(data_size) + " bytes");
    }
    info.view.data = data + g->data_offset_ + info.offset;
    by_offset.emplace_back(info.offset, t);
  }
  std::sort(by_offset.begin(), by_offset.end());
  for (size_t k = 1; k < by_offset.size(); ++k) {
    const GgufTensorInfo& prev = g->tensors_[by_offset[k - 1].second];
    const GgufTensorInfo& cur = g->tensors_[by_offset[k].second];
    if (cur.offset < prev.offset + prev.view.bytes()) {
      return Status::Error(name + ": tensor " + Quote(cur.name) + " at data offset " + std::to_string(cur.offset) +
                           " overlaps tensor " + Quote(prev.name) + " at [" + std::to_string(prev.offset) + ", " +
                           std::to_string(prev.offset + prev.view.bytes()) + ")");
    }
  }
  return g;
}

const GgufValue* GgufFile::Find(const std::string& key) const {
  auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

const GgufTensorInfo* GgufFile::FindTensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace leanlm
