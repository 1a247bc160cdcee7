// GGUF reading and writing: real files written by llama.cpp's tools
// (stories260K, the vocab-only test files), hand-assembled byte buffers for
// every kind of malformed input, and write -> read round trips.
#include "io/gguf.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <dirent.h>
#include <new>

#include "base/dtype.h"
#include "gguf_test_util.h"

// The largest single allocation since the last reset: proves that size
// fields in a hostile file never turn into allocations.
// (GCC 12 sees the replaced operator new and delete inline and warns about
// malloc/free pairing, which is what they are meant to do.)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
static std::atomic<size_t> g_max_alloc{0};
void* operator new(size_t n) {
  size_t seen = g_max_alloc.load();
  while (n > seen && !g_max_alloc.compare_exchange_weak(seen, n)) {
  }
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace leanlm {
namespace {

using testing_util::Bytes;
using testing_util::DataDir;
using testing_util::FileExists;
using testing_util::TempDir;

Result<std::unique_ptr<GgufFile>> ParseBytes(const Bytes& b) { return GgufFile::Parse(b.data(), b.size(), "t.gguf"); }

// Expects a parse error whose message contains every fragment.
void ExpectError(const Bytes& b, std::initializer_list<const char*> fragments) {
  auto r = ParseBytes(b);
  ASSERT_FALSE(r.ok()) << "parsed although it should not";
  const std::string msg = r.status().message();
  EXPECT_NE(msg.find("t.gguf"), std::string::npos) << msg;
  for (const char* f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "missing '" << f << "' in: " << msg;
}

// One valid F32 tensor "w" of 4 floats, with one metadata key.
Bytes OneTensorFile() {
  Bytes b;
  b.Header(1, 1).KeyU32("general.test", 7).Info("w", {4}, 0, 0).PadTo(32);
  const float data[4] = {1, 2, 3, 4};
  b.Raw(data, sizeof(data));
  return b;
}

// ---- Real files ----

std::string Stories(const char* name) { return DataDir() + "/stories260K/" + name; }

TEST(GgufRealFiles, Stories260K) {
  if (!FileExists(Stories("stories260K.gguf"))) GTEST_SKIP() << "../shared/data/stories260K not present";
  auto g = GgufFile::Open(Stories("stories260K.gguf"));
  ASSERT_TRUE(g.ok()) << g.status().message();
  const GgufFile& f = **g;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset() % 32, 0u);
  ASSERT_EQ(f.tensors().size(), 48u);
  for (const auto& t : f.tensors()) {
    EXPECT_EQ(t.view.type, DType::kF32) << t.name;
    EXPECT_EQ(t.offset % 32, 0u) << t.name;
  }
  EXPECT_EQ(f.GetString("general.architecture").value(), "llama");
  EXPECT_EQ(f.GetInt("llama.embedding_length").value(), 64);
  EXPECT_EQ(f.GetInt("llama.block_count").value(), 5);
  EXPECT_EQ(f.GetInt("llama.attention.head_count").value(), 8);
  EXPECT_EQ(f.GetInt("llama.attention.head_count_kv").value(), 4);
  EXPECT_EQ(f.GetInt("llama.feed_forward_length").value(), 172);
  EXPECT_FLOAT_EQ(static_cast<float>(f.GetFloat("llama.attention.layer_norm_rms_epsilon").value()), 1e-5f);
  EXPECT_EQ(f.GetStringArray("tokenizer.ggml.tokens").value().size(), 512u);
  EXPECT_EQ(f.GetStringArray("tokenizer.ggml.tokens").value()[1], "<s>");
  EXPECT_EQ(f.GetFloatArray("tokenizer.ggml.scores").value().size(), 512u);
  EXPECT_EQ(f.GetIntArray("tokenizer.ggml.token_type").value()[0], 2);  // <unk> is UNKNOWN

  const GgufTensorInfo* embd = f.FindTensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->view.shape_string(), "[64, 512]");
  EXPECT_EQ(f.FindTensor("blk.0.attn_k.weight")->view.shape_string(), "[64, 32]");  // kv_dim = 4 heads x 8
  EXPECT_EQ(f.FindTensor("blk.4.ffn_down.weight")->view.shape_string(), "[172, 64]");
  // The classifier is tied in the model; the GGUF stores it a second time.
  const GgufTensorInfo* out = f.FindTensor("output.weight");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(std::memcmp(out->view.data, embd->view.data, embd->view.bytes()), 0);

  // Errors of typed accessors name the key and the type.
  auto wrong = f.GetString("llama.block_count");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("'llama.block_count' has type uint32 (expected string)"), std::string::npos);
  auto missing = f.GetInt("llama.no_such_key");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("'llama.no_such_key' is missing"), std::string::npos);
}

// The llama2.c checkpoint is an independent copy of the same weights.
TEST(GgufRealFiles, Stories260KTensorsMatchLlama2c) {
  if (!FileExists(Stories("stories260K.gguf")) || !FileExists(Stories("stories260K.bin"))) {
    GTEST_SKIP() << "../shared/data/stories260K not present";
  }
  auto g = GgufFile::Open(Stories("stories260K.gguf"));
  ASSERT_TRUE(g.ok()) << g.status().message();
  auto bin = MappedFile::Open(Stories("stories260K.bin"));
  ASSERT_TRUE(bin.ok());
  int32_t h[7];
  std::memcpy(h, (*bin)->data(), sizeof(h));
  const int64_t dim = h[0], hidden = h[1], layers = h[2], heads = h[3], kv_heads = h[4], vocab = std::abs(h[5]);
  ASSERT_EQ(dim, 64);
  ASSERT_EQ(hidden, 172);
  const int64_t kv_dim = dim / heads * kv_heads;
  const float* w = reinterpret_cast<const float*>((*bin)->data() + sizeof(h));
  const float* token_embd = w;
  const float* rms_att = token_embd + vocab * dim;
  const float* wq = rms_att + layers * dim;
  const float* wk = wq + layers * dim * dim;
  auto same = [&](const char* name, const float* expected, int64_t n) {
    const GgufTensorInfo* t = (*g)->FindTensor(name);
    ASSERT_NE(t, nullptr) << name;
    ASSERT_EQ(t->view.elements(), n) << name;
    EXPECT_EQ(std::memcmp(t->view.data, expected, n * sizeof(float)), 0) << name;
  };
  same("token_embd.weight", token_embd, vocab * dim);
  same("blk.3.attn_norm.weight", rms_att + 3 * dim, dim);
  same("blk.1.attn_q.weight", wq + 1 * dim * dim, dim * dim);
  same("blk.2.attn_k.weight", wk + 2 * kv_dim * dim, kv_dim * dim);
}

TEST(GgufRealFiles, VocabOnlyFiles) {
  const std::string dir = DataDir() + "/vocab";
  DIR* d = ::opendir(dir.c_str());
  if (!d) GTEST_SKIP() << "../shared/data/vocab not present";
  int parsed = 0;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() < 5 || name.substr(name.size() - 5) != ".gguf") continue;
    auto g = GgufFile::Open(dir + "/" + name);
    ASSERT_TRUE(g.ok()) << name << ": " << g.status().message();
    EXPECT_TRUE((*g)->tensors().empty()) << name;
    auto tokens = (*g)->GetStringArray("tokenizer.ggml.tokens");
    ASSERT_TRUE(tokens.ok()) << name;
    auto types = (*g)->GetIntArray("tokenizer.ggml.token_type");
    ASSERT_TRUE(types.ok()) << name;
    EXPECT_EQ(tokens->size(), types->size()) << name;
    EXPECT_GT(tokens->size(), 1000u) << name;
    EXPECT_TRUE((*g)->GetString("general.architecture").ok()) << name;
    ++parsed;
  }
  ::closedir(d);
  EXPECT_GE(parsed, 9);
}

// ---- Hand-built inputs: accepted ----

TEST(GgufParse, MinimalFiles) {
  Bytes empty;
  empty.Header(0, 0);
  auto g = ParseBytes(empty);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_TRUE((*g)->metadata().empty());

  Bytes v2;
  v2.Header(0, 1, 2).KeyU32("a", 1);
  ASSERT_TRUE(ParseBytes(v2).ok());

  const Bytes one_bytes = OneTensorFile();  // the views point into it
  auto one = ParseBytes(one_bytes);
  ASSERT_TRUE(one.ok()) << one.status().message();
  const GgufTensorInfo* w = (*one)->FindTensor("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->view.f32()[3], 4.0f);
  EXPECT_EQ((*one)->data_offset(), 96u);
}

TEST(GgufParse, CustomAlignmentAndNestedArrays) {
  Bytes b;
  b.Header(2, 2);
  b.Str("general.alignment").U32(4).U32(64);
  // [[1, 2], []] as an array of arrays of uint16.
  b.Str("nested").U32(9).U32(9).U64(2);
  b.U32(2).U64(2).U16(1).U16(2);
  b.U32(2).U64(0);
  b.Info("a", {2}, 0, 0).Info("b", {3, 1}, 1, 64).PadTo(64);
  const float a[2] = {5, 6};
  b.Raw(a, sizeof(a)).PadTo(64).Zeros(6);
  auto g = ParseBytes(b);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ((*g)->alignment(), 64u);
  const GgufValue* n = (*g)->Find("nested");
  ASSERT_NE(n, nullptr);
  ASSERT_EQ(n->array.size(), 2u);
  EXPECT_EQ(n->array[0].elem_type, GgufType::kUint16);
  EXPECT_EQ(n->array[0].array[1].u, 2u);
  EXPECT_TRUE(n->array[1].array.empty());
  EXPECT_EQ((*g)->FindTensor("b")->view.type, DType::kF16);
}

// Block formats come from the type registry: Q4_0 (32 elements in 18 bytes)
// is sized by its registry row, not by the parser.
TEST(GgufParse, RegisteredBlockType) {
  constexpr uint32_t kTestType = static_cast<uint32_t>(DType::kQ4_0);
  Bytes ok;
  ok.Header(1, 0).Info("q", {64, 2}, kTestType, 0).PadTo(32).Zeros(4 * 18);
  auto g = ParseBytes(ok);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ((*g)->FindTensor("q")->view.bytes(), 72u);

  Bytes short_data;
  short_data.Header(1, 0).Info("q", {64, 2}, kTestType, 0).PadTo(32).Zeros(4 * 18 - 1);
  ExpectError(short_data, {"'q'", "72"});
  Bytes bad_row;
  bad_row.Header(1, 0).Info("q", {33, 2}, kTestType, 0).PadTo(32).Zeros(1000);
  ExpectError(bad_row, {"'q'", "not a multiple", "block size 32"});
}

// ---- Hand-built inputs: rejected, with a message that says why ----

TEST(GgufParseErrors, Magic) {
  Bytes b;
  b.Raw("GGML", 4).U32(3).U64(0).U64(0);
  ExpectError(b, {"at byte 0", "bad magic 'GGML'", "expected 'GGUF'"});
  ExpectError(Bytes(), {"at byte 0", "file ends inside the magic"});
}

TEST(GgufParseErrors, Version) {
  for (uint32_t v : {0u, 1u, 4u, 0x03000000u}) {
    Bytes b;
    b.Header(0, 0, v);
    ExpectError(b, {"at byte 4", "unsupported GGUF version", "expected 2 or 3"});
  }
}

TEST(GgufParseErrors, TruncatedAnywhere) {
  const Bytes full = OneTensorFile();
  for (size_t n = 0; n < full.size(); ++n) {
    auto r = GgufFile::Parse(full.data(), n, "t.gguf");
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes parsed";
    const std::string m = r.status().message();
    EXPECT_TRUE(m.find("file ends inside") != std::string::npos || m.find("data section") != std::string::npos ||
                m.find("left in the file") != std::string::npos || m.find("cannot fit") != std::string::npos)
        << n << ": " << m;
  }
}

TEST(GgufParseErrors, HugeCountsDoNotAllocate) {
  Bytes tensors;
  tensors.Header(uint64_t{1} << 62, 0).Zeros(76);
  g_max_alloc = 0;
  ExpectError(tensors, {"at byte 8", "4611686018427387904 tensor infos cannot fit"});
  EXPECT_LT(g_max_alloc.load(), size_t{1} << 16);

  Bytes kv;
  kv.Header(0, uint64_t{1} << 62).Zeros(76);
  g_max_alloc = 0;
  ExpectError(kv, {"at byte 16", "metadata entries cannot fit"});
  EXPECT_LT(g_max_alloc.load(), size_t{1} << 16);

  Bytes str;
  str.Header(0, 1).Str("k").U32(8).U64(uint64_t{1} << 60).Zeros(10);
  g_max_alloc = 0;
  ExpectError(str, {"at byte 37", "'k'", "length 1152921504606846976", "10 bytes are left"});
  EXPECT_LT(g_max_alloc.load(), size_t{1} << 16);

  Bytes key;
  key.Header(0, 1).U64(~uint64_t{0}).Zeros(20);
  g_max_alloc = 0;
  ExpectError(key, {"at byte 24", "key 0 has length 18446744073709551615"});
  EXPECT_LT(g_max_alloc.load(), size_t{1} << 16);

  // 2^40 uint32 elements; and 9 strings whose 8-byte lengths need 72 bytes.
  Bytes arr;
  arr.Header(0, 1).Str("a").U32(9).U32(4).U64(uint64_t{1} << 40).Zeros(40);
  g_max_alloc = 0;
  ExpectError(arr, {"at byte 41", "array of 1099511627776 uint32 values cannot fit in the 40 bytes"});
  EXPECT_LT(g_max_alloc.load(), size_t{1} << 16);
  Bytes strs;
  strs.Header(0, 1).Str("a").U32(9).U32(8).U64(9).Zeros(71);
  ExpectError(strs, {"array of 9 string values cannot fit in the 71 bytes"});
}

TEST(GgufParseErrors, ValueTypes) {
  Bytes type;
  type.Header(0, 1).Str("k").U32(13).U32(0);
  ExpectError(type, {"at byte 33", "'k' has unknown value type 13"});
  Bytes elem;
  elem.Header(0, 1).Str("k").U32(9).U32(77).U64(0);
  ExpectError(elem, {"at byte 37", "unknown array element type 77"});
  Bytes boolean;
  boolean.Header(0, 1).Str("k").U32(7).U8(2);
  ExpectError(boolean, {"at byte 37", "bool stored as 2"});
  Bytes deep;
  deep.Header(0, 1).Str("k").U32(9);
  for (int i = 0; i < 9; ++i) deep.U32(9).U64(1);
  deep.U32(4).U64(0);
  ExpectError(deep, {"'k'", "nested deeper than 8"});
}

TEST(GgufParseErrors, Keys) {
  Bytes dup;
  dup.Header(0, 2).KeyU32("a.b", 1).KeyU32("a.b", 2);
  ExpectError(dup, {"at byte 43", "duplicate key 'a.b'"});
  Bytes empty;
  empty.Header(0, 1).KeyU32("", 1);
  ExpectError(empty, {"at byte 24", "key 0 is empty"});
  Bytes bad_key;
  bad_key.Header(0, 1).KeyU32("ok\xff", 1);
  ExpectError(bad_key, {"at byte 34", "key 0 is not valid UTF-8"});
  Bytes overlong;  // "/" encoded in two bytes
  overlong.Header(0, 1).KeyU32("\xc0\xaf", 1);
  ExpectError(overlong, {"not valid UTF-8"});
  Bytes surrogate;
  surrogate.Header(0, 1).KeyU32("\xed\xa0\x80", 1);
  ExpectError(surrogate, {"not valid UTF-8"});
}

TEST(GgufParseErrors, StringValues) {
  Bytes value;
  value.Header(0, 1).Str("k").U32(8).Str("caf\xc3");  // truncated 2-byte sequence
  ExpectError(value, {"at byte 48", "the value of key 'k' is not valid UTF-8"});
  Bytes in_array;
  in_array.Header(0, 1).Str("tok").U32(9).U32(8).U64(2).Str("fine").Str("\x80");
  ExpectError(in_array, {"'tok'", "not valid UTF-8"});
  Bytes name;
  name.Header(1, 0).Info("w\xfe", {4}, 0, 0).PadTo(32).Zeros(16);
  ExpectError(name, {"name of tensor 0 is not valid UTF-8"});
}

TEST(GgufParseErrors, Alignment) {
  Bytes npot;
  npot.Header(0, 1).KeyU32("general.alignment", 48);
  ExpectError(npot, {"general.alignment is 48", "power of two"});
  Bytes zero;
  zero.Header(0, 1).KeyU32("general.alignment", 0);
  ExpectError(zero, {"general.alignment is 0"});
  Bytes type;
  type.Header(0, 1).Str("general.alignment").U32(10).U64(32);
  ExpectError(type, {"'general.alignment' has type uint64 (expected uint32)"});
}

TEST(GgufParseErrors, TensorShapes) {
  Bytes dims0;
  dims0.Header(1, 0).Info("w", {}, 0, 0).Zeros(8);
  ExpectError(dims0, {"at byte 33", "'w' has 0 dimensions (expected 1..4)"});
  Bytes dims5;
  dims5.Header(1, 0).Info("w", {1, 1, 1, 1, 1}, 0, 0);
  ExpectError(dims5, {"'w' has 5 dimensions"});
  Bytes zero;
  zero.Header(1, 0).Info("w", {4, 0}, 0, 0);
  ExpectError(zero, {"at byte 45", "'w' dimension 1 is 0"});
  Bytes negative;
  negative.Header(1, 0).Info("w", {~uint64_t{0}}, 0, 0);
  ExpectError(negative, {"dimension 0 is 18446744073709551615"});
  Bytes overflow;
  overflow.Header(1, 0).Info("w", {uint64_t{1} << 40, uint64_t{1} << 40}, 0, 0);
  ExpectError(overflow, {"'w' [1099511627776, 1099511627776]", "overflows"});
  Bytes long_name;
  long_name.Header(1, 0).Info(std::string(64, 'n'), {4}, 0, 0);
  ExpectError(long_name, {"name of 64 bytes (expected 1..63)"});
}

TEST(GgufParseErrors, TensorTypes) {
  for (uint32_t type : {4u, 5u, 99u, 255u, 256u, 0xffffffffu}) {
    Bytes b;
    b.Header(1, 0).Info("w", {4}, type, 0).PadTo(32).Zeros(64);
    const std::string expected = "'w' has unknown ggml type id " + std::to_string(type);
    ExpectError(b, {"at byte 45", expected.c_str()});
  }
}

TEST(GgufParseErrors, TensorData) {
  Bytes beyond;
  beyond.Header(1, 0).Info("w", {4}, 0, 32).PadTo(32).Zeros(40);
  ExpectError(beyond, {"'w' [4] f32 needs bytes [32, 32+16)", "40 bytes"});
  Bytes far;
  far.Header(1, 0).Info("w", {4}, 0, uint64_t{1} << 63).PadTo(32).Zeros(40);
  ExpectError(far, {"'w'", "needs bytes [9223372036854775808"});
  Bytes no_data;
  no_data.Header(1, 0).Info("w", {4}, 0, 0);
  ExpectError(no_data, {"data section should start at byte 64", "file has 57 bytes"});
  Bytes unaligned;
  unaligned.Header(1, 0).Info("w", {4}, 0, 8).PadTo(32).Zeros(64);
  ExpectError(unaligned, {"at byte 49", "'w' has data offset 8, not a multiple of the alignment 32"});
  Bytes overlap;
  overlap.Header(2, 0).Info("a", {16}, 0, 0).Info("b", {4}, 0, 32).PadTo(32).Zeros(128);
  ExpectError(overlap, {"'b' at data offset 32 overlaps tensor 'a' at [0, 64)"});
  Bytes dup;
  dup.Header(2, 0).Info("a", {4}, 0, 0).Info("a", {4}, 0, 32).PadTo(32).Zeros(64);
  ExpectError(dup, {"at byte 57", "duplicate tensor name 'a'"});
}

// ---- Writing ----

TEST(GgufWrite, HandAssembledLayout) {
  // The writer's bytes equal a file assembled from the spec by hand.
  TempDir tmp;
  GgufWriter w;
  w.Set("general.name", GgufValue::Str("x"));
  const float data[3] = {1.5f, -2, 0.25f};
  TensorView v;
  v.data = data;
  v.n_dims = 1;
  v.ne = {3, 1, 1, 1};
  ASSERT_TRUE(w.AddTensor("t", v).ok());
  ASSERT_TRUE(w.AddTensor("u", v).ok());
  ASSERT_TRUE(w.Write(tmp.File("a.gguf")).ok());

  Bytes expected;
  expected.Header(2, 1).Str("general.name").U32(8).Str("x");
  expected.Info("t", {3}, 0, 0).Info("u", {3}, 0, 32).PadTo(32);
  expected.Raw(data, 12).PadTo(32).Raw(data, 12).PadTo(32);
  auto file = MappedFile::Open(tmp.File("a.gguf"));
  ASSERT_TRUE(file.ok());
  ASSERT_EQ((*file)->size(), expected.size());
  EXPECT_EQ(std::memcmp((*file)->data(), expected.data(), expected.size()), 0);
  EXPECT_FALSE(FileExists(tmp.File("a.gguf.tmp")));
}

TEST(GgufWrite, RoundTripEveryType) {
  TempDir tmp;
  GgufWriter w;
  w.SetAlignment(64);
  w.Set("u8", GgufValue::U8(250));
  w.Set("i8", GgufValue::I8(-120));
  w.Set("u16", GgufValue::U16(65000));
  w.Set("i16", GgufValue::I16(-32000));
  w.Set("u32", GgufValue::U32(4000000000u));
  w.Set("i32", GgufValue::I32(-2000000000));
  w.Set("f32", GgufValue::F32(3.25e-7f));
  w.Set("bool", GgufValue::Bool(true));
  w.Set("str", GgufValue::Str("h\xc3\xa9llo \xe2\x96\x81 \xf0\x9f\x98\x80"));
  w.Set("empty", GgufValue::Str(""));
  w.Set("u64", GgufValue::U64(18000000000000000000ull));
  w.Set("i64", GgufValue::I64(-9000000000000000000ll));
  w.Set("f64", GgufValue::F64(-1.0 / 3.0));
  w.Set("strs", GgufValue::StrArray({"a", "", "\xe4\xb8\xad"}));
  w.Set("f32s", GgufValue::F32Array({1.0f, -0.5f, 1e30f}));
  w.Set("i32s", GgufValue::I32Array({-1, 0, 2147483647}));
  w.Set("bools", GgufValue::Array(GgufType::kBool, {GgufValue::Bool(false), GgufValue::Bool(true)}));
  w.Set("nested", GgufValue::Array(GgufType::kArray, {GgufValue::I32Array({7}), GgufValue::StrArray({})}));
  w.Set("u32", GgufValue::U32(5));  // replaces, keeps the position

  std::vector<float> f32(6 * 5);
  for (size_t i = 0; i < f32.size(); ++i) f32[i] = static_cast<float>(i) * 0.5f - 3;
  std::vector<uint16_t> f16 = {0x3c00, 0xc000, 0x7bff};
  std::vector<int8_t> i8(2 * 3 * 4);
  for (size_t i = 0; i < i8.size(); ++i) i8[i] = static_cast<int8_t>(i * 7 - 80);
  std::vector<uint16_t> bf16(1 * 2 * 1 * 3, 0x3f80);
  auto view = [](const void* p, DType t, std::array<int64_t, 4> ne, int n_dims) {
    TensorView v;
    v.data = p;
    v.type = t;
    v.ne = ne;
    v.n_dims = n_dims;
    return v;
  };
  ASSERT_TRUE(w.AddTensor("f32", view(f32.data(), DType::kF32, {6, 5, 1, 1}, 2)).ok());
  ASSERT_TRUE(w.AddTensor("f16", view(f16.data(), DType::kF16, {3, 1, 1, 1}, 1)).ok());
  ASSERT_TRUE(w.AddTensor("i8", view(i8.data(), DType::kI8, {2, 3, 4, 1}, 3)).ok());
  ASSERT_TRUE(w.AddTensor("bf16", view(bf16.data(), DType::kBF16, {1, 2, 1, 3}, 4)).ok());
  ASSERT_TRUE(w.Write(tmp.File("rt.gguf")).ok());

  auto g = GgufFile::Open(tmp.File("rt.gguf"));
  ASSERT_TRUE(g.ok()) << g.status().message();
  const GgufFile& f = **g;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 64u);
  ASSERT_EQ(f.metadata().size(), 19u);
  EXPECT_EQ(f.metadata()[0].first, "general.alignment");
  EXPECT_EQ(f.metadata()[5].first, "u32");
  EXPECT_EQ(f.Find("u8")->u, 250u);
  EXPECT_EQ(f.Find("u8")->type, GgufType::kUint8);
  EXPECT_EQ(f.Find("i8")->i, -120);
  EXPECT_EQ(f.Find("u16")->u, 65000u);
  EXPECT_EQ(f.Find("i16")->i, -32000);
  EXPECT_EQ(f.GetInt("u32").value(), 5);
  EXPECT_EQ(f.GetInt("i32").value(), -2000000000);
  EXPECT_EQ(f.Find("f32")->type, GgufType::kFloat32);
  EXPECT_EQ(static_cast<float>(f.GetFloat("f32").value()), 3.25e-7f);
  EXPECT_TRUE(f.GetBool("bool").value());
  EXPECT_EQ(f.GetString("str").value(), "h\xc3\xa9llo \xe2\x96\x81 \xf0\x9f\x98\x80");
  EXPECT_EQ(f.GetString("empty").value(), "");
  EXPECT_EQ(f.Find("u64")->u, 18000000000000000000ull);
  EXPECT_FALSE(f.GetInt("u64").ok());  // does not fit int64
  EXPECT_EQ(f.GetInt("i64").value(), -9000000000000000000ll);
  EXPECT_EQ(f.GetFloat("f64").value(), -1.0 / 3.0);
  EXPECT_EQ(f.GetStringArray("strs").value(), (std::vector<std::string>{"a", "", "\xe4\xb8\xad"}));
  EXPECT_EQ(f.GetFloatArray("f32s").value(), (std::vector<float>{1.0f, -0.5f, 1e30f}));
  EXPECT_EQ(f.GetIntArray("i32s").value(), (std::vector<int32_t>{-1, 0, 2147483647}));
  EXPECT_EQ(f.Find("bools")->array[1].u, 1u);
  const GgufValue* nested = f.Find("nested");
  ASSERT_EQ(nested->array.size(), 2u);
  EXPECT_EQ(nested->array[0].array[0].i, 7);
  EXPECT_EQ(nested->array[1].elem_type, GgufType::kString);

  ASSERT_EQ(f.tensors().size(), 4u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  auto check = [&](const char* name, const void* data, size_t bytes, const char* shape) {
    const GgufTensorInfo* t = f.FindTensor(name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->offset % 64, 0u);
    EXPECT_EQ(t->view.shape_string(), shape);
    ASSERT_EQ(t->view.bytes(), bytes);
    EXPECT_EQ(std::memcmp(t->view.data, data, bytes), 0) << name;
  };
  check("f32", f32.data(), f32.size() * 4, "[6, 5]");
  check("f16", f16.data(), 6, "[3]");
  check("i8", i8.data(), i8.size(), "[2, 3, 4]");
  check("bf16", bf16.data(), 12, "[1, 2, 1, 3]");
}

TEST(GgufWrite, Errors) {
  TempDir tmp;
  GgufWriter w;
  const float x = 1;
  TensorView v;
  v.data = &x;
  v.n_dims = 1;
  EXPECT_FALSE(w.AddTensor("", v).ok());
  EXPECT_FALSE(w.AddTensor(std::string(64, 'a'), v).ok());
  EXPECT_FALSE(w.AddTensor("bad\xff", v).ok());
  ASSERT_TRUE(w.AddTensor("x", v).ok());
  auto dup = w.AddTensor("x", v);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.message().find("'x' added twice"), std::string::npos);
  TensorView none;
  EXPECT_FALSE(w.AddTensor("none", none).ok());

  GgufWriter bad_utf8;
  bad_utf8.Set("k", GgufValue::Str("\xc3"));
  auto s = bad_utf8.Write(tmp.File("b.gguf"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not valid UTF-8"), std::string::npos) << s.message();
  EXPECT_FALSE(FileExists(tmp.File("b.gguf")));
  EXPECT_FALSE(FileExists(tmp.File("b.gguf.tmp")));

  GgufWriter mixed;
  mixed.Set("k", GgufValue::Array(GgufType::kInt32, {GgufValue::Str("no")}));
  EXPECT_FALSE(mixed.Write(tmp.File("c.gguf")).ok());
  GgufWriter align;
  align.SetAlignment(24);
  EXPECT_FALSE(align.Write(tmp.File("d.gguf")).ok());
  EXPECT_FALSE(w.Write(tmp.path() + "/no/such/dir/e.gguf").ok());
}

}  // namespace
}  // namespace leanlm
