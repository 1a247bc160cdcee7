#include "io/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "base/fp16.h"

namespace leanlm {
namespace {

// A fresh directory, removed when the test program exits.
std::string TempDir() {
  struct Dirs {
    std::vector<std::string> paths;
    ~Dirs() {
      for (const std::string& p : paths) std::filesystem::remove_all(p);
    }
  };
  static Dirs dirs;
  std::string tmpl = ::testing::TempDir() + "safetensors_test_XXXXXX";
  EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
  dirs.paths.push_back(tmpl);
  return tmpl;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string Le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

// A file image built by hand from the format description: length, header, data.
std::string Image(const std::string& header, const std::string& data) { return Le64(header.size()) + header + data; }

Result<SafetensorsFile> Parse(const std::string& image) {
  return ParseSafetensors(reinterpret_cast<const uint8_t*>(image.data()), image.size(), "test.safetensors");
}

std::string FloatBytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

TensorView F32View(const std::vector<float>& data, std::initializer_list<int64_t> ne) {
  TensorView v;
  v.data = data.data();
  v.type = DType::kF32;
  v.n_dims = static_cast<int>(ne.size());
  int i = 0;
  for (int64_t n : ne) v.ne[i++] = n;
  return v;
}

// The expected bytes below are the format's own: the reference
// implementation's serialization tests give these exact files.
TEST(SafetensorsWriteTest, MatchesReferenceBytesUnpadded) {
  const std::string dir = TempDir();
  const std::vector<float> data = {0, 1, 2, 3, 4, 5};
  // PyTorch shape [1, 2, 3] is ggml ne {3, 2, 1}.
  ASSERT_TRUE(WriteSafetensors(dir + "/a.safetensors", {{"attn.0", F32View(data, {3, 2, 1})}}).ok());
  const std::string header = R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})";
  ASSERT_EQ(header.size(), 64u);
  EXPECT_EQ(ReadBytes(dir + "/a.safetensors"), Image(header, FloatBytes(data)));
}

TEST(SafetensorsWriteTest, PadsHeaderWithSpacesToEightBytes) {
  const std::string dir = TempDir();
  const std::vector<float> data = {0, 1, 2, 3, 4, 5};
  ASSERT_TRUE(WriteSafetensors(dir + "/a.safetensors", {{"attn0", F32View(data, {3, 2, 1, 1})}}).ok());
  const std::string header = R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}})" + std::string(7, ' ');
  ASSERT_EQ(header.size(), 72u);
  EXPECT_EQ(ReadBytes(dir + "/a.safetensors"), Image(header, FloatBytes(data)));
}

TEST(SafetensorsWriteTest, EmptyFileAndMetadataOnly) {
  const std::string dir = TempDir();
  ASSERT_TRUE(WriteSafetensors(dir + "/e.safetensors", {}).ok());
  EXPECT_EQ(ReadBytes(dir + "/e.safetensors"), Image("{}      ", ""));
  ASSERT_TRUE(WriteSafetensors(dir + "/m.safetensors", {}, {{"framework", "pt"}}).ok());
  EXPECT_EQ(ReadBytes(dir + "/m.safetensors"), Image(R"({"__metadata__":{"framework":"pt"}})" "     ", ""));
  auto parsed = OpenSafetensors(dir + "/m.safetensors");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->metadata().at("framework"), "pt");
  EXPECT_TRUE(parsed->tensors().empty());
}

TEST(SafetensorsWriteTest, OrdersByAlignmentThenName) {
  const std::string dir = TempDir();
  const std::vector<uint16_t> h = {1, 2};
  const std::vector<float> f = {3};
  const std::vector<int64_t> l = {4};
  auto view = [](const void* p, DType t, int64_t n) {
    TensorView v;
    v.data = p;
    v.type = t;
    v.n_dims = 1;
    v.ne[0] = n;
    return v;
  };
  ASSERT_TRUE(WriteSafetensors(dir + "/o.safetensors", {{"b", view(h.data(), DType::kF16, 2)},
                                                         {"a", view(h.data(), DType::kBF16, 2)},
                                                         {"c", view(h.data(), DType::kF16, 1)},
                                                         {"z", view(f.data(), DType::kF32, 1)},
                                                         {"y", view(l.data(), DType::kI64, 1)}})
                  .ok());
  const std::string header = R"({"y":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
                             R"("z":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},)"
                             R"("a":{"dtype":"BF16","shape":[2],"data_offsets":[12,16]},)"
                             R"("b":{"dtype":"F16","shape":[2],"data_offsets":[16,20]},)"
                             R"("c":{"dtype":"F16","shape":[1],"data_offsets":[20,22]}})";
  const std::string bytes = ReadBytes(dir + "/o.safetensors");
  ASSERT_GE(bytes.size(), 8 + header.size());
  EXPECT_EQ(bytes.substr(8, header.size()), header);
  auto parsed = OpenSafetensors(dir + "/o.safetensors");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_EQ(parsed->tensors().size(), 5u);
  EXPECT_EQ(parsed->tensors()[0].name, "y");
  EXPECT_EQ(parsed->tensors()[4].name, "c");
  for (const auto& t : parsed->tensors()) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % (t.bytes / t.elements()), 0u) << t.name;
  }
}

TEST(SafetensorsWriteTest, RoundTripsEveryStorableType) {
  const std::string dir = TempDir();
  std::vector<uint8_t> buf(6 * 8);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<uint8_t>(i * 37 + 1);
  std::map<std::string, TensorView> tensors;
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kI8, DType::kI16, DType::kI32, DType::kI64,
                  DType::kF64}) {
    TensorView v;
    v.data = buf.data();
    v.type = t;
    v.n_dims = 2;
    v.ne = {3, 2, 1, 1};
    tensors[std::string("t_") + TypeName(t)] = v;
  }
  ASSERT_TRUE(WriteSafetensors(dir + "/r.safetensors", tensors, {{"k", "v"}}).ok());
  auto parsed = OpenSafetensors(dir + "/r.safetensors", MappedFile::Mode::kLoadIntoMemory);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  for (const auto& [name, v] : tensors) {
    const SafetensorsTensor* t = parsed->Find(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->shape, (std::vector<int64_t>{2, 3}));
    auto back = t->View(parsed->source());
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back->type, v.type);
    EXPECT_EQ(back->n_dims, 2);
    EXPECT_EQ(back->ne[0], 3);
    EXPECT_EQ(back->ne[1], 2);
    EXPECT_EQ(std::memcmp(back->data, buf.data(), v.bytes()), 0) << name;
  }
}

TEST(SafetensorsWriteTest, RejectsWhatTheFormatCannotHold) {
  const std::string dir = TempDir();
  std::vector<uint8_t> buf(64);
  TensorView q;
  q.data = buf.data();
  q.type = DType::kQ4_0;
  q.n_dims = 1;
  q.ne[0] = 32;
  Status s = WriteSafetensors(dir + "/q.safetensors", {{"w", q}});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot store"), std::string::npos) << s.message();
  TensorView empty;
  EXPECT_FALSE(WriteSafetensors(dir + "/v.safetensors", {{"w", empty}}).ok());
  std::vector<float> f = {1};
  s = WriteSafetensors(dir + "/u.safetensors", {{std::string("bad\xff"), F32View(f, {1})}});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("UTF-8"), std::string::npos) << s.message();
  EXPECT_FALSE(WriteSafetensors(dir + "/no/such/dir/x.safetensors", {{"w", F32View(f, {1})}}).ok());
  // Nothing half-written is left behind.
  EXPECT_NE(access((dir + "/q.safetensors").c_str(), F_OK), 0);
  EXPECT_NE(access((dir + "/u.safetensors.tmp").c_str(), F_OK), 0);
}

// The example from the reference reader's documentation, built by hand.
TEST(SafetensorsReadTest, ReadsHandBuiltFile) {
  const std::string header = R"({"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}})";
  ASSERT_EQ(header.size(), 60u);
  std::string data(16, '\0');
  for (int i = 0; i < 4; ++i) data[i * 4] = static_cast<char>(i + 1);
  const std::string image = Image(header, data);
  auto f = Parse(image);
  ASSERT_TRUE(f.ok()) << f.status().message();
  ASSERT_EQ(f->tensors().size(), 1u);
  const SafetensorsTensor& t = f->tensors()[0];
  EXPECT_EQ(t.name, "test");
  EXPECT_EQ(t.dtype, "I32");
  EXPECT_EQ(t.type, DType::kI32);
  EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(t.file_offset, 68u);
  EXPECT_EQ(t.bytes, 16u);
  const int32_t* v = reinterpret_cast<const int32_t*>(t.data);
  EXPECT_EQ(v[0], 1);
  EXPECT_EQ(v[3], 4);
  EXPECT_EQ(static_cast<const void*>(t.data), image.data() + 68);  // zero copy
}

TEST(SafetensorsReadTest, CopiesMisalignedTensorToAlignedMemory) {
  // Header of 61 bytes: the F32 data starts at file offset 69, not 4-aligned.
  std::string header = R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})";
  header += std::string(61 - header.size(), ' ');
  std::vector<uint64_t> storage(16);
  const std::string image = Image(header, FloatBytes({1.5f, -2.0f, 7.25f}));
  std::memcpy(storage.data(), image.data(), image.size());
  auto f = ParseSafetensors(reinterpret_cast<const uint8_t*>(storage.data()), image.size(), "m");
  ASSERT_TRUE(f.ok()) << f.status().message();
  auto v = f->tensors()[0].View("m");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(v->data) % alignof(float), 0u);
  EXPECT_EQ(v->f32()[0], 1.5f);
  EXPECT_EQ(v->f32()[2], 7.25f);
}

// Element i of a tensor, decoded by hand from its dtype.
double Element(const SafetensorsTensor& t, size_t i) {
  const std::string& d = t.dtype;
  const void* p = t.data;
  if (d == "F32") return static_cast<const float*>(p)[i];
  if (d == "F64") return static_cast<const double*>(p)[i];
  if (d == "F16") return Fp16ToFp32(static_cast<const uint16_t*>(p)[i]);
  if (d == "BF16") return Bf16ToFp32(static_cast<const uint16_t*>(p)[i]);
  if (d == "I64") return static_cast<double>(static_cast<const int64_t*>(p)[i]);
  if (d == "I32") return static_cast<const int32_t*>(p)[i];
  if (d == "I16") return static_cast<const int16_t*>(p)[i];
  if (d == "I8") return static_cast<const int8_t*>(p)[i];
  return t.data[i];  // U8, BOOL
}

TEST(SafetensorsReadTest, ReadsPyTorchFixture) {
  const std::string base = std::string(LEANLM_SOURCE_DIR) + "/tests/fixtures/safetensors/torch_mixed";
  auto f = OpenSafetensors(base + ".safetensors");
  ASSERT_TRUE(f.ok()) << f.status().message();
  std::ifstream in(base + ".expected.json");
  const auto expected = nlohmann::json::parse(in);
  EXPECT_EQ(f->metadata(), (expected["__metadata__"].get<std::map<std::string, std::string>>()));
  const auto order = expected["data_order"].get<std::vector<std::string>>();
  ASSERT_EQ(f->tensors().size(), order.size());
  for (size_t i = 0; i < order.size(); ++i) EXPECT_EQ(f->tensors()[i].name, order[i]);

  for (const auto& [name, e] : expected["tensors"].items()) {
    SCOPED_TRACE(name);
    const SafetensorsTensor* t = f->Find(name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->dtype, e["dtype"].get<std::string>());
    EXPECT_EQ(t->shape, e["shape"].get<std::vector<int64_t>>());
    EXPECT_EQ(t->file_offset - f->tensors()[0].file_offset, e["data_offsets"][0].get<uint64_t>());
    const auto& values = e["values"];
    ASSERT_EQ(static_cast<int64_t>(values.size()), t->elements());
    for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(Element(*t, i), values[i].get<double>()) << i;
    auto view = t->View(f->source());
    if (t->dtype == "U8" || t->dtype == "BOOL") {
      ASSERT_FALSE(view.ok());
      EXPECT_NE(view.status().message().find("unsupported dtype " + t->dtype + " for tensor '" + name + "'"),
                std::string::npos)
          << view.status().message();
      continue;
    }
    ASSERT_TRUE(view.ok()) << view.status().message();
    if (t->shape.empty()) {
      EXPECT_EQ(view->n_dims, 1);
      EXPECT_EQ(view->ne[0], 1);
    } else {
      ASSERT_EQ(view->n_dims, static_cast<int>(t->shape.size()));
      for (size_t i = 0; i < t->shape.size(); ++i) EXPECT_EQ(view->ne[i], t->shape[t->shape.size() - 1 - i]);
    }
  }
  // The 2-D embedding: PyTorch [3, 4] is ggml ne {4, 3}; row 1 starts at element 4.
  auto emb = f->Find("model.embed_tokens.weight")->View(f->source());
  ASSERT_TRUE(emb.ok());
  EXPECT_EQ(emb->ne[0], 4);
  EXPECT_EQ(emb->ne[1], 3);
  EXPECT_EQ(reinterpret_cast<const float*>(emb->row(1))[0], (4 - 5.5f) / 4);
}

TEST(SafetensorsReadTest, OpenMissingFileFails) {
  auto f = OpenSafetensors("/nonexistent/model.safetensors");
  EXPECT_FALSE(f.ok());
}

struct BadCase {
  const char* what;
  std::string image;
  const char* message;  // a fragment the error must contain
};

std::string Tensor(const std::string& name, const std::string& dtype, const std::string& shape, uint64_t b,
                   uint64_t e) {
  return "\"" + name + R"(":{"dtype":")" + dtype + R"(","shape":)" + shape + R"(,"data_offsets":[)" +
         std::to_string(b) + "," + std::to_string(e) + "]}";
}

std::vector<BadCase> BadCases() {
  const std::string d16(16, '\0');
  const std::string good = "{" + Tensor("a", "F32", "[4]", 0, 16) + "}";
  std::vector<BadCase> c;
  c.push_back({"shorter than length field", "abc", "shorter than the 8-byte"});
  c.push_back({"length beyond file", Le64(1000) + "{}", "runs past the end"});
  c.push_back({"absurd length", Le64(100'000'001) + "{}", "exceeds the limit"});
  c.push_back({"max length", Le64(~uint64_t{0}) + "{}", "exceeds the limit"});
  c.push_back({"header not an object", Image("[1]", ""), "must start with '{'"});
  c.push_back({"leading space", Image(" {}", ""), "must start with '{'"});
  c.push_back({"truncated JSON", Image(good.substr(0, good.size() - 1), d16), "malformed JSON"});
  c.push_back({"trailing garbage", Image(good + "x", d16), "malformed JSON"});
  c.push_back({"NUL padding", Image(good + std::string(3, '\0'), d16), "header: NUL byte at offset 63"});
  c.push_back({"missing dtype", Image(R"({"a":{"shape":[4],"data_offsets":[0,16]}})", d16), "missing field 'dtype'"});
  c.push_back({"missing shape", Image(R"({"a":{"dtype":"F32","data_offsets":[0,16]}})", d16), "missing field 'shape'"});
  c.push_back({"missing offsets", Image(R"({"a":{"dtype":"F32","shape":[4]}})", d16), "missing field 'data_offsets'"});
  c.push_back({"extra field", Image(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16],"x":1}})", d16),
               "unexpected field 'x'"});
  c.push_back({"entry not object", Image(R"({"a":[1]})", ""), "must be an object"});
  c.push_back({"dtype not string", Image(R"({"a":{"dtype":4,"shape":[4],"data_offsets":[0,16]}})", d16),
               "dtype must be a string"});
  c.push_back({"unknown dtype", Image("{" + Tensor("a", "F4", "[4]", 0, 16) + "}", d16), "unknown dtype 'F4'"});
  c.push_back({"shape not array", Image(R"({"a":{"dtype":"F32","shape":4,"data_offsets":[0,16]}})", d16),
               "shape must be an array"});
  c.push_back({"negative dim", Image("{" + Tensor("a", "F32", "[-4]", 0, 16) + "}", d16), "non-negative integer"});
  c.push_back({"fractional dim", Image("{" + Tensor("a", "F32", "[4.0]", 0, 16) + "}", d16), "non-negative integer"});
  c.push_back({"huge dim", Image("{" + Tensor("a", "F32", "[18446744073709551615]", 0, 16) + "}", d16), "too large"});
  c.push_back({"shape overflow", Image("{" + Tensor("a", "F32", "[4294967296,4294967296,2]", 0, 16) + "}", d16),
               "overflows"});
  c.push_back({"overflow hidden by a zero", Image("{" + Tensor("a", "U8", "[4294967296,2147483649,0]", 0, 0) + "}", ""),
               "overflows"});
  c.push_back({"bytes overflow", Image("{" + Tensor("a", "F64", "[4611686018427387904]", 0, 16) + "}", d16),
               "overflows"});
  c.push_back({"offsets not pair", Image(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0]}})", d16),
               "data_offsets must be an array"});
  c.push_back({"offsets strings", Image(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":["0","16"]}})", d16),
               "non-negative integer"});
  c.push_back({"offsets beyond data", Image("{" + Tensor("a", "F32", "[4]", 0, 16) + "}", std::string(8, '\0')),
               "outside the data area"});
  c.push_back({"begin after end", Image("{" + Tensor("a", "F32", "[0]", 16, 0) + "}", d16), "outside the data area"});
  c.push_back({"size mismatch", Image("{" + Tensor("a", "F32", "[3]", 0, 16) + "}", d16), "needs 12"});
  c.push_back({"overlap", Image("{" + Tensor("a", "F32", "[4]", 0, 16) + "," + Tensor("b", "F32", "[2]", 8, 16) + "}",
                                d16),
               "overlaps"});
  c.push_back({"hole", Image("{" + Tensor("a", "F32", "[2]", 0, 8) + "," + Tensor("b", "F32", "[1]", 12, 16) + "}", d16),
               "unused bytes"});
  c.push_back({"hole at start", Image("{" + Tensor("a", "F32", "[2]", 8, 16) + "}", d16), "unused bytes"});
  c.push_back({"trailing bytes", Image("{" + Tensor("a", "F32", "[2]", 0, 8) + "}", d16), "cover 8 of the 16"});
  c.push_back({"duplicate name", Image("{" + Tensor("a", "F32", "[2]", 0, 8) + "," + Tensor("a", "F32", "[2]", 8, 16) + "}",
                                       d16),
               "duplicate key 'a'"});
  c.push_back({"duplicate field", Image(R"({"a":{"dtype":"F32","dtype":"F32","shape":[4],"data_offsets":[0,16]}})", d16),
               "duplicate key 'dtype'"});
  c.push_back({"non-UTF-8 name", Image("{" + Tensor("a\xff", "F32", "[4]", 0, 16) + "}", d16), "malformed JSON"});
  c.push_back({"overlong UTF-8 name", Image("{" + Tensor("a\xc0\xaf", "F32", "[4]", 0, 16) + "}", d16), "malformed JSON"});
  c.push_back({"lone surrogate", Image("{" + Tensor("a\\ud800", "F32", "[4]", 0, 16) + "}", d16), "malformed JSON"});
  c.push_back({"metadata not object", Image(R"({"__metadata__":[]})", ""), "__metadata__ must be an object"});
  c.push_back({"metadata value not string", Image(R"({"__metadata__":{"a":1}})", ""), "must be a string"});
  c.push_back({"deep nesting", Image("{\"a\":" + std::string(5000, '[') + std::string(5000, ']') + "}", ""),
               "nested deeper than 8"});
  return c;
}

TEST(SafetensorsReadTest, RejectsBadInput) {
  for (const BadCase& c : BadCases()) {
    SCOPED_TRACE(c.what);
    auto f = Parse(c.image);
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.status().message().find(c.message), std::string::npos) << f.status().message();
    EXPECT_EQ(f.status().message().rfind("test.safetensors", 0), 0u) << f.status().message();
  }
}

TEST(SafetensorsReadTest, ViewRejectsWhatTheModelCannotUse) {
  const std::string header = "{" + Tensor("e", "F32", "[0,3]", 0, 0) + "," + Tensor("big", "F16", "[1,1,1,1,2]", 0, 4) + "}";
  const std::string image = Image(header, std::string(4, '\0'));
  auto f = Parse(image);
  ASSERT_TRUE(f.ok()) << f.status().message();
  auto e = f->Find("e")->View("x");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("empty"), std::string::npos);
  auto big = f->Find("big")->View("x");
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("5 dimensions"), std::string::npos);
}

}  // namespace
}  // namespace leanlm
