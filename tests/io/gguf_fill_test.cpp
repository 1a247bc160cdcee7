// GgufWriter tensors whose bytes come from a fill function at Write() time:
// the file reads back with the bytes given, and a fill that gives too few or
// too many bytes, or fails, leaves no file.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <numeric>

#include "io/gguf.h"
#include "io/gguf_test_util.h"

namespace leanlm {
namespace {

using testing_util::TempDir;

TEST(GgufFill, BytesArriveInPiecesBetweenViewTensors) {
  TempDir tmp;
  std::vector<float> a(6);
  std::iota(a.begin(), a.end(), 1.0f);
  TensorView va;
  va.data = a.data();
  va.n_dims = 2;
  va.ne = {3, 2, 1, 1};
  GgufWriter w;
  w.Set("general.architecture", GgufValue::Str("llama"));
  ASSERT_TRUE(w.AddTensor("a", va).ok());
  // 5 x 3 F16 = 30 bytes, given as 7 + 23.
  std::vector<uint8_t> bytes(30);
  std::iota(bytes.begin(), bytes.end(), uint8_t{100});
  ASSERT_TRUE(w.AddTensor("b", DType::kF16, 2, {5, 3, 1, 1}, [&](const GgufWriter::TensorSink& sink) {
                 LEANLM_RETURN_IF_ERROR(sink(bytes.data(), 7));
                 return sink(bytes.data() + 7, 23);
               }).ok());
  ASSERT_TRUE(w.AddTensor("c", va.type, va.n_dims, va.ne, [&](const GgufWriter::TensorSink& sink) {
                 return sink(a.data(), 24);
               }).ok());
  ASSERT_TRUE(w.Write(tmp.File("f.gguf")).ok());

  auto g = GgufFile::Open(tmp.File("f.gguf"));
  ASSERT_TRUE(g.ok()) << g.status().message();
  const GgufTensorInfo* b = (*g)->FindTensor("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->view.type, DType::kF16);
  EXPECT_EQ(b->view.ne, (std::array<int64_t, 4>{5, 3, 1, 1}));
  EXPECT_EQ(std::memcmp(b->view.data, bytes.data(), bytes.size()), 0);
  EXPECT_EQ(std::memcmp((*g)->FindTensor("a")->view.data, a.data(), 24), 0);
  EXPECT_EQ(std::memcmp((*g)->FindTensor("c")->view.data, a.data(), 24), 0);
  EXPECT_EQ(b->offset % 32, 0u);
}

TEST(GgufFill, WrongByteCountsAndErrorsLeaveNoFile) {
  TempDir tmp;
  std::vector<uint8_t> bytes(64);
  const std::string path = tmp.File("bad.gguf");
  struct Case {
    GgufWriter::TensorFill fill;
    const char* needle;
  };
  const Case cases[] = {
      {[&](const GgufWriter::TensorSink& sink) { return sink(bytes.data(), 10); }, "gave 10 of its 16 bytes"},
      {[&](const GgufWriter::TensorSink& sink) { return sink(bytes.data(), 17); }, "more than its 16 bytes"},
      {[&](const GgufWriter::TensorSink&) { return Status::Error("the source went away"); }, "the source went away"},
  };
  for (const Case& c : cases) {
    GgufWriter w;
    ASSERT_TRUE(w.AddTensor("t", DType::kF32, 1, {4, 1, 1, 1}, c.fill).ok());
    Status st = w.Write(path);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find(c.needle), std::string::npos) << st.message();
    EXPECT_FALSE(std::filesystem::exists(path));
  }
  GgufWriter w;
  EXPECT_FALSE(w.AddTensor("q", DType::kQ4_0, 1, {33, 1, 1, 1}, cases[0].fill).ok());  // not whole blocks
  EXPECT_FALSE(w.AddTensor("n", DType::kF32, 1, {4, 1, 1, 1}, nullptr).ok());
  EXPECT_FALSE(w.AddTensor("d", DType::kF32, 5, {4, 1, 1, 1}, cases[0].fill).ok());
}

}  // namespace
}  // namespace leanlm
