// GgufValue constructors and conversions, and GgufFile's typed accessors.
#include <cmath>
#include <limits>

#include "io/gguf.h"

namespace leanlm {
namespace {

GgufValue Unsigned(GgufType t, uint64_t v) {
  GgufValue out;
  out.type = t;
  out.u = v;
  return out;
}
GgufValue Signed(GgufType t, int64_t v) {
  GgufValue out;
  out.type = t;
  out.i = v;
  return out;
}
bool IsUnsigned(GgufType t) {
  return t == GgufType::kUint8 || t == GgufType::kUint16 || t == GgufType::kUint32 || t == GgufType::kUint64;
}
bool IsSigned(GgufType t) {
  return t == GgufType::kInt8 || t == GgufType::kInt16 || t == GgufType::kInt32 || t == GgufType::kInt64;
}
bool IsFloat(GgufType t) { return t == GgufType::kFloat32 || t == GgufType::kFloat64; }

std::string TypeDescription(const GgufValue& v) {
  if (v.type == GgufType::kArray) return std::string("array of ") + GgufTypeName(v.elem_type);
  return GgufTypeName(v.type);
}

}  // namespace

GgufValue GgufValue::U8(uint8_t v) { return Unsigned(GgufType::kUint8, v); }
GgufValue GgufValue::U16(uint16_t v) { return Unsigned(GgufType::kUint16, v); }
GgufValue GgufValue::U32(uint32_t v) { return Unsigned(GgufType::kUint32, v); }
GgufValue GgufValue::U64(uint64_t v) { return Unsigned(GgufType::kUint64, v); }
GgufValue GgufValue::Bool(bool v) { return Unsigned(GgufType::kBool, v ? 1 : 0); }
GgufValue GgufValue::I8(int8_t v) { return Signed(GgufType::kInt8, v); }
GgufValue GgufValue::I16(int16_t v) { return Signed(GgufType::kInt16, v); }
GgufValue GgufValue::I32(int32_t v) { return Signed(GgufType::kInt32, v); }
GgufValue GgufValue::I64(int64_t v) { return Signed(GgufType::kInt64, v); }

GgufValue GgufValue::F32(float v) {
  GgufValue out;
  out.type = GgufType::kFloat32;
  out.f = v;
  return out;
}
GgufValue GgufValue::F64(double v) {
  GgufValue out;
  out.type = GgufType::kFloat64;
  out.f = v;
  return out;
}
GgufValue GgufValue::Str(std::string v) {
  GgufValue out;
  out.type = GgufType::kString;
  out.str = std::move(v);
  return out;
}
GgufValue GgufValue::Array(GgufType elem_type, std::vector<GgufValue> elements) {
  GgufValue out;
  out.type = GgufType::kArray;
  out.elem_type = elem_type;
  out.array = std::move(elements);
  return out;
}
GgufValue GgufValue::StrArray(const std::vector<std::string>& v) {
  std::vector<GgufValue> a;
  a.reserve(v.size());
  for (const auto& s : v) a.push_back(Str(s));
  return Array(GgufType::kString, std::move(a));
}
GgufValue GgufValue::F32Array(const std::vector<float>& v) {
  std::vector<GgufValue> a;
  a.reserve(v.size());
  for (float x : v) a.push_back(F32(x));
  return Array(GgufType::kFloat32, std::move(a));
}
GgufValue GgufValue::I32Array(const std::vector<int32_t>& v) {
  std::vector<GgufValue> a;
  a.reserve(v.size());
  for (int32_t x : v) a.push_back(I32(x));
  return Array(GgufType::kInt32, std::move(a));
}

bool GgufValue::is_integer() const { return IsUnsigned(type) || IsSigned(type); }
bool GgufValue::is_number() const { return is_integer() || IsFloat(type); }

int64_t GgufValue::as_int() const {
  if (IsSigned(type)) return i;
  // uint64 values above INT64_MAX saturate; GetInt reports them as errors.
  if (IsUnsigned(type) || type == GgufType::kBool) {
    return u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max()
                                                                          : static_cast<int64_t>(u);
  }
  return 0;
}

double GgufValue::as_float() const {
  if (IsFloat(type)) return f;
  if (IsSigned(type)) return static_cast<double>(i);
  if (IsUnsigned(type) || type == GgufType::kBool) return static_cast<double>(u);
  return 0;
}

// ---- GgufFile typed accessors ----

namespace {

Status MissingKey(const std::string& file, const std::string& key) {
  return Status::Error(file + ": key '" + key + "' is missing");
}
Status WrongType(const std::string& file, const std::string& key, const GgufValue& v, const char* expected) {
  return Status::Error(file + ": key '" + key + "' has type " + TypeDescription(v) + " (expected " + expected + ")");
}

}  // namespace

Result<std::string> GgufFile::GetString(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (!v) return MissingKey(name_, key);
  if (v->type != GgufType::kString) return WrongType(name_, key, *v, "string");
  return v->str;
}

Result<int64_t> GgufFile::GetInt(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (!v) return MissingKey(name_, key);
  if (!v->is_integer()) return WrongType(name_, key, *v, "an integer");
  if (v->type == GgufType::kUint64 && v->u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Status::Error(name_ + ": key '" + key + "' is " + std::to_string(v->u) + ", too large");
  }
  return v->as_int();
}

Result<double> GgufFile::GetFloat(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (!v) return MissingKey(name_, key);
  if (!v->is_number()) return WrongType(name_, key, *v, "a number");
  return v->as_float();
}

Result<bool> GgufFile::GetBool(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (!v) return MissingKey(name_, key);
  if (v->type != GgufType::kBool) return WrongType(name_, key, *v, "bool");
  return v->u != 0;
}

Result<std::vector<std::string>> GgufFile::GetStringArray(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (!v) return MissingKey(name_, key);
  if (v->type != GgufType::kArray || v->elem_type != GgufType::kString) {
    return WrongType(name_, key, *v, "array of string");
  }
  std::vector<std::string> out;
  out.reserve(v->array.size());
  for (const GgufValue& e : v->array) out.push_back(e.str);
  return out;
}

Result<std::vector<float>> GgufFile::GetFloatArray(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (!v) return MissingKey(name_, key);
  if (v->type != GgufType::kArray || !IsFloat(v->elem_type)) return WrongType(name_, key, *v, "array of float32");
  std::vector<float> out;
  out.reserve(v->array.size());
  for (size_t k = 0; k < v->array.size(); ++k) {
    const double x = v->array[k].f;
    if (std::fabs(x) > std::numeric_limits<float>::max() && std::isfinite(x)) {
      return Status::Error(name_ + ": key '" + key + "' element " + std::to_string(k) + " does not fit in float32");
    }
    out.push_back(static_cast<float>(x));
  }
  return out;
}

Result<std::vector<int32_t>> GgufFile::GetIntArray(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (!v) return MissingKey(name_, key);
  if (v->type != GgufType::kArray || !(IsSigned(v->elem_type) || IsUnsigned(v->elem_type))) {
    return WrongType(name_, key, *v, "array of integers");
  }
  std::vector<int32_t> out;
  out.reserve(v->array.size());
  for (size_t k = 0; k < v->array.size(); ++k) {
    const GgufValue& e = v->array[k];
    const bool fits = IsSigned(e.type) ? (e.i >= std::numeric_limits<int32_t>::min() &&
                                          e.i <= std::numeric_limits<int32_t>::max())
                                       : e.u <= static_cast<uint64_t>(std::numeric_limits<int32_t>::max());
    if (!fits) {
      return Status::Error(name_ + ": key '" + key + "' element " + std::to_string(k) +
                           " does not fit in int32");
    }
    out.push_back(static_cast<int32_t>(IsSigned(e.type) ? e.i : static_cast<int64_t>(e.u)));
  }
  return out;
}

}  // namespace leanlm
