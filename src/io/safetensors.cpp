#include "io/safetensors.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>

#include <nlohmann/json.hpp>

#include "base/log.h"
#include "io/strict_json.h"

namespace leanlm {
namespace {

using Json = nlohmann::json;

struct DtypeInfo {
  const char* name;
  size_t size;
  std::optional<DType> type;
};

// In the reference implementation's enum order, which is increasing
// alignment; the writer sorts by it (descending) so every tensor stays aligned.
constexpr DtypeInfo kDtypes[] = {
    {"BOOL", 1, std::nullopt}, {"U8", 1, std::nullopt},       {"I8", 1, DType::kI8},
    {"F8_E5M2", 1, std::nullopt}, {"F8_E4M3", 1, std::nullopt}, {"I16", 2, DType::kI16},
    {"U16", 2, std::nullopt},  {"F16", 2, DType::kF16},       {"BF16", 2, DType::kBF16},
    {"I32", 4, DType::kI32},   {"U32", 4, std::nullopt},      {"F32", 4, DType::kF32},
    {"F64", 8, DType::kF64},   {"I64", 8, DType::kI64},       {"U64", 8, std::nullopt},
};
constexpr int kNumDtypes = static_cast<int>(sizeof(kDtypes) / sizeof(kDtypes[0]));

int FindDtype(const std::string& name) {
  for (int i = 0; i < kNumDtypes; ++i) {
    if (name == kDtypes[i].name) return i;
  }
  return -1;
}

int FindDtype(DType type) {
  for (int i = 0; i < kNumDtypes; ++i) {
    if (kDtypes[i].type == type) return i;
  }
  return -1;
}

uint64_t ReadLe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

Result<uint64_t> ReadUnsigned(const Json& v, const std::string& what) {
  if (!v.is_number_unsigned()) return Status::Error(what + " must be a non-negative integer, got " + v.dump());
  const uint64_t x = v.get<uint64_t>();
  if (x > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Status::Error(what + " is " + std::to_string(x) + ", too large");
  }
  return x;
}

Status ParseTensorEntry(const std::string& name, const Json& info, const std::string& source, uint64_t data_size,
                        SafetensorsTensor& t, uint64_t& begin, uint64_t& end) {
  const std::string where = source + ": tensor " + QuoteForMessage(name);
  if (!info.is_object()) return Status::Error(where + ": entry must be an object");
  for (const auto& [key, value] : info.items()) {
    (void)value;
    if (key != "dtype" && key != "shape" && key != "data_offsets") {
      return Status::Error(where + ": unexpected field " + QuoteForMessage(key));
    }
  }
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!info.contains(key)) return Status::Error(where + ": missing field '" + key + "'");
  }
  const Json& dtype = info["dtype"];
  if (!dtype.is_string()) return Status::Error(where + ": dtype must be a string");
  const int d = FindDtype(dtype.get<std::string>());
  if (d < 0) return Status::Error(where + ": unknown dtype " + QuoteForMessage(dtype.get<std::string>()));
  t.name = name;
  t.dtype = kDtypes[d].name;
  t.type = kDtypes[d].type;

  const Json& shape = info["shape"];
  if (!shape.is_array()) return Status::Error(where + ": shape must be an array");
  // Every partial product stays within int64, so elements() never overflows
  // (a later zero dimension must not excuse a huge prefix).
  constexpr uint64_t kMaxElements = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  uint64_t elements = 1;
  for (const Json& dim : shape) {
    LEANLM_ASSIGN_OR_RETURN(const uint64_t n, ReadUnsigned(dim, where + ": shape entry"));
    if (n != 0 && elements > kMaxElements / n) {
      return Status::Error(where + ": shape " + shape.dump() + " overflows");
    }
    elements *= n;
    t.shape.push_back(static_cast<int64_t>(n));
  }
  if (elements > kMaxElements / kDtypes[d].size) {
    return Status::Error(where + ": shape " + shape.dump() + " overflows");
  }
  const uint64_t expected = elements * kDtypes[d].size;

  const Json& offsets = info["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2) {
    return Status::Error(where + ": data_offsets must be an array [begin, end]");
  }
  LEANLM_ASSIGN_OR_RETURN(begin, ReadUnsigned(offsets[0], where + ": data_offsets[0]"));
  LEANLM_ASSIGN_OR_RETURN(end, ReadUnsigned(offsets[1], where + ": data_offsets[1]"));
  if (begin > end || end > data_size) {
    return Status::Error(where + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                         "] outside the data area of " + std::to_string(data_size) + " bytes");
  }
  if (end - begin != expected) {
    return Status::Error(where + ": data_offsets span " + std::to_string(end - begin) + " bytes but " + t.dtype +
                         " " + shape.dump() + " needs " + std::to_string(expected));
  }
  t.bytes = static_cast<size_t>(expected);
  return Status::Ok();
}

}  // namespace

struct SafetensorsFile::Owner {
  std::shared_ptr<const void> file;       // the mapping, when we opened the file
  std::vector<uint64_t> aligned_copies;   // misaligned tensors, copied to 8-byte alignment
};

int64_t SafetensorsTensor::elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // cannot overflow: checked at parse time
  return n;
}

Result<TensorView> SafetensorsTensor::View(const std::string& source) const {
  const std::string where = source + ": tensor " + QuoteForMessage(name);
  if (!type) return Status::Error(source + ": unsupported dtype " + dtype + " for tensor " + QuoteForMessage(name));
  if (shape.size() > 4) {
    return Status::Error(where + ": " + std::to_string(shape.size()) + " dimensions (at most 4 supported)");
  }
  if (elements() == 0) return Status::Error(where + ": tensor is empty");
  TensorView v;
  v.data = data;
  v.type = *type;
  v.n_dims = shape.empty() ? 1 : static_cast<int>(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) v.ne[i] = shape[shape.size() - 1 - i];
  return v;
}

const SafetensorsTensor* SafetensorsFile::Find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

Result<SafetensorsFile> ParseSafetensors(const uint8_t* data, size_t size, const std::string& source) {
  if (size < 8) {
    return Status::Error(source + ": file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  }
  const uint64_t n = ReadLe64(data);
  if (n > kSafetensorsMaxHeaderBytes) {
    return Status::Error(source + ": header length " + std::to_string(n) + " at offset 0 exceeds the limit of " +
                         std::to_string(kSafetensorsMaxHeaderBytes) + " bytes");
  }
  if (n > size - 8) {
    return Status::Error(source + ": header length " + std::to_string(n) + " at offset 0 runs past the end of the " +
                         std::to_string(size) + "-byte file");
  }
  const char* header = reinterpret_cast<const char*>(data + 8);
  if (n < 2 || header[0] != '{') return Status::Error(source + ": header at offset 8 must start with '{'");
  LEANLM_ASSIGN_OR_RETURN(const Json root, ParseStrictJson(std::string_view(header, n), source + ": header", 8, 8));
  if (!root.is_object()) return Status::Error(source + ": header must be a JSON object");

  SafetensorsFile file;
  file.source_ = source;
  file.owner_ = std::make_shared<SafetensorsFile::Owner>();
  const uint64_t data_start = 8 + n;
  const uint64_t data_size = size - data_start;
  struct Span {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Span> spans;
  for (const auto& [key, value] : root.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) return Status::Error(source + ": __metadata__ must be an object of strings");
      for (const auto& [mkey, mvalue] : value.items()) {
        if (!mvalue.is_string()) {
          return Status::Error(source + ": __metadata__ value for " + QuoteForMessage(mkey) + " must be a string");
        }
        file.metadata_[mkey] = mvalue.get<std::string>();
      }
      continue;
    }
    SafetensorsTensor t;
    uint64_t begin = 0, end = 0;
    LEANLM_RETURN_IF_ERROR(ParseTensorEntry(key, value, source, data_size, t, begin, end));
    t.file_offset = data_start + begin;
    spans.push_back({begin, end, file.tensors_.size()});
    file.tensors_.push_back(std::move(t));
  }

  // The tensors must tile the data area: sorted by offset, each starts where
  // the previous ended, and the last ends at the end of the file.
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  uint64_t expected_begin = 0;
  for (size_t i = 0; i < spans.size(); ++i) {
    const Span& s = spans[i];
    const std::string& name = file.tensors_[s.index].name;
    if (s.begin < expected_begin) {
      return Status::Error(source + ": tensor " + QuoteForMessage(name) + " at data offset " + std::to_string(s.begin) +
                           " overlaps tensor " + QuoteForMessage(file.tensors_[spans[i - 1].index].name));
    }
    if (s.begin > expected_begin) {
      return Status::Error(source + ": " + std::to_string(s.begin - expected_begin) +
                           " unused bytes before tensor " + QuoteForMessage(name) + " at data offset " +
                           std::to_string(expected_begin));
    }
    expected_begin = s.end;
  }
  if (expected_begin != data_size) {
    return Status::Error(source + ": tensors cover " + std::to_string(expected_begin) + " of the " +
                         std::to_string(data_size) + " data bytes after the header");
  }

  // Present tensors in data order, as the file stores them.
  std::vector<SafetensorsTensor> ordered;
  ordered.reserve(spans.size());
  for (const Span& s : spans) ordered.push_back(std::move(file.tensors_[s.index]));
  file.tensors_ = std::move(ordered);

  // Views need their elements aligned; copy the (rare) misaligned tensor.
  std::vector<SafetensorsTensor*> misaligned;
  size_t copy_words = 0;
  for (SafetensorsTensor& t : file.tensors_) {
    t.data = data + t.file_offset;
    const size_t elem = kDtypes[FindDtype(t.dtype)].size;
    if (t.bytes > 0 && reinterpret_cast<uintptr_t>(t.data) % elem != 0) {
      misaligned.push_back(&t);
      copy_words += (t.bytes + 7) / 8;
    }
  }
  if (!misaligned.empty()) {
    LEANLM_WARN("%s: %zu tensors are not aligned to their element size (the header is not padded to 8 bytes); "
                "copying %zu bytes",
                source.c_str(), misaligned.size(), copy_words * 8);
    std::vector<uint64_t>& copies = file.owner_->aligned_copies;
    copies.resize(copy_words);
    size_t word = 0;
    for (SafetensorsTensor* t : misaligned) {
      std::memcpy(&copies[word], t->data, t->bytes);
      t->data = reinterpret_cast<const uint8_t*>(&copies[word]);
      word += (t->bytes + 7) / 8;
    }
  }
  for (size_t i = 0; i < file.tensors_.size(); ++i) file.index_[file.tensors_[i].name] = i;
  return file;
}

Result<SafetensorsFile> OpenSafetensors(const std::string& path, MappedFile::Mode mode) {
  LEANLM_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> mapped, MappedFile::Open(path, mode));
  LEANLM_ASSIGN_OR_RETURN(SafetensorsFile file, ParseSafetensors(mapped->data(), mapped->size(), path));
  file.owner_->file = std::move(mapped);
  return file;
}

Status WriteSafetensors(const std::string& path, const std::map<std::string, TensorView>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  struct Entry {
    const std::string* name;
    const TensorView* view;
    int dtype;
    size_t bytes;
  };
  std::vector<Entry> entries;
  for (const auto& [name, view] : tensors) {
    const int d = FindDtype(view.type);
    if (d < 0) {
      return Status::Error(path + ": cannot store " + TypeName(view.type) + " tensor " + QuoteForMessage(name) +
                           " in safetensors (F32, F16, BF16 and integer types only)");
    }
    if (view.n_dims < 1 || view.n_dims > 4 || view.data == nullptr) {
      return Status::Error(path + ": tensor " + QuoteForMessage(name) + " is not a valid view");
    }
    Result<size_t> bytes = TensorBytes(view.type, view.ne.data(), view.n_dims);
    if (!bytes.ok()) return bytes.status().WithContext(path + ": tensor " + QuoteForMessage(name));
    entries.push_back({&name, &view, d, *bytes});
  }
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.dtype != b.dtype ? a.dtype > b.dtype : *a.name < *b.name;
  });

  // ordered_json keeps insertion order: __metadata__ first, then data order.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
    header["__metadata__"] = std::move(meta);
  }
  uint64_t offset = 0;
  for (const Entry& e : entries) {
    nlohmann::ordered_json shape = nlohmann::ordered_json::array();
    for (int i = e.view->n_dims - 1; i >= 0; --i) shape.push_back(e.view->ne[i]);
    nlohmann::ordered_json info = nlohmann::ordered_json::object();
    info["dtype"] = kDtypes[e.dtype].name;
    info["shape"] = std::move(shape);
    info["data_offsets"] = {offset, offset + e.bytes};
    header[*e.name] = std::move(info);
    offset += e.bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const std::exception& e) {
    return Status::Error(path + ": cannot write the header (tensor names and metadata must be UTF-8): " + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  if (text.size() > kSafetensorsMaxHeaderBytes) return Status::Error(path + ": header too large");

  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  LEANLM_ASSIGN_OR_RETURN(std::unique_ptr<AtomicFileWriter> writer, AtomicFileWriter::Create(path));
  LEANLM_RETURN_IF_ERROR(writer->Write(len, sizeof(len)));
  LEANLM_RETURN_IF_ERROR(writer->Write(text.data(), text.size()));
  for (const Entry& e : entries) LEANLM_RETURN_IF_ERROR(writer->Write(e.view->data, e.bytes));
  return writer->Commit();
}

}  // namespace leanlm
