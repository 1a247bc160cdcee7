// llama.cpp's base-logits file: the bytes leanlm writes, decoded here field by
// field and checked against log-softmax of the model's own logits; a file
// written by llama-perplexity (tests/fixtures/kld) read by leanlm; and
// damaged files refused with errors that say where.
#include "eval/compare_logits_file.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "compare_fixture.h"
#include "eval/compare.h"
#include "eval/perplexity.h"

namespace leanlm::testing {
namespace {

template <typename T>
T Get(const std::string& bytes, size_t offset) {
  T v;
  std::memcpy(&v, bytes.data() + offset, sizeof(T));
  return v;
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Checks one stored row against the exact log-softmax of the logits it came from.
void ExpectRowEncodes(const std::string& bytes, size_t offset, const float* logits, int64_t n_vocab) {
  const auto log_p = ReferenceLogSoftmax(logits, n_vocab);
  const float scale = Get<float>(bytes, offset), min_log_prob = Get<float>(bytes, offset + 4);
  const long double max_log_p = *std::max_element(log_p.begin(), log_p.end());
  const long double floor = std::max(*std::min_element(log_p.begin(), log_p.end()), max_log_p - 16);
  EXPECT_NEAR(min_log_prob, static_cast<double>(floor), 1e-5);
  EXPECT_NEAR(scale, static_cast<double>(max_log_p - floor) / 65535, 1e-9);
  int top_levels = 0;
  for (int64_t i = 0; i < n_vocab; ++i) {
    const uint16_t level = Get<uint16_t>(bytes, offset + 8 + 2 * i);
    top_levels += level == 65535;
    if (log_p[i] <= floor) {
      EXPECT_EQ(level, 0) << i;
    } else {
      EXPECT_NEAR(scale * level + min_log_prob, static_cast<double>(log_p[i]), scale / 2 + 2e-5) << i;
    }
  }
  EXPECT_GE(top_levels, 1);
  if (n_vocab % 2) {
    EXPECT_EQ(Get<uint16_t>(bytes, offset + 8 + 2 * n_vocab), 0);  // padding
  }
}

class LogitsFileTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    WriteTinyModel(*tmp_ / "a.gguf", 1);
    WriteTinyModel(*tmp_ / "odd.gguf", 4, 509);
  }
  static void TearDownTestSuite() { delete tmp_; }
  static std::string Path(const std::string& name) { return *tmp_ / name; }

  // Writes the base file of `model` on `text` and returns its bytes.
  std::string WriteBase(const std::string& model_path, const std::string& text, int64_t n_ctx,
                        const std::string& name) {
    auto model = LoadOrDie(model_path);
    auto r = WriteKlDivergenceBase(*model, pool_, text, n_ctx, Path(name), false);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return ReadAll(Path(name));
  }

  ThreadPool pool_{2};
  static TempDir* tmp_;
};
TempDir* LogitsFileTest::tmp_ = nullptr;

// The layout, decoded here from the specification in the header comment.
void CheckLayout(const std::string& bytes, Model& model, const std::string& text, int64_t n_ctx, ThreadPool& pool) {
  const int64_t n_vocab = model.config().n_vocab;
  ASSERT_GE(bytes.size(), 20u);
  EXPECT_EQ(bytes.substr(0, 8), "_logits_");
  EXPECT_EQ(Get<int32_t>(bytes, 8), n_ctx);
  EXPECT_EQ(Get<int32_t>(bytes, 12), n_vocab);
  const int64_t n_chunk = Get<int32_t>(bytes, 16);
  const std::vector<int32_t> all = model.tokenizer().Encode(text, true, false);
  EXPECT_EQ(n_chunk, static_cast<int64_t>(all.size()) / n_ctx);
  const int64_t rows = n_ctx - 1 - n_ctx / 2, words = 2 * ((n_vocab + 1) / 2) + 4;
  ASSERT_EQ(static_cast<int64_t>(bytes.size()), 20 + 4 * n_ctx * n_chunk + n_chunk * rows * words * 2);
  for (int64_t i = 0; i < n_chunk * n_ctx; ++i) ASSERT_EQ(Get<int32_t>(bytes, 20 + 4 * i), all[i]) << i;
  size_t offset = 20 + 4 * n_ctx * n_chunk;
  for (int64_t c = 0; c < n_chunk; ++c) {
    std::vector<int32_t> chunk(all.begin() + c * n_ctx, all.begin() + (c + 1) * n_ctx);
    chunk[0] = model.tokenizer().bos();
    const auto logits = AllLogits(model, chunk, pool);
    for (int64_t r = 0; r < rows; ++r, offset += 2 * words) {
      ExpectRowEncodes(bytes, offset, logits.data() + (n_ctx / 2 + r) * n_vocab, n_vocab);
    }
  }
}

TEST_F(LogitsFileTest, LayoutAndValues) {
  const std::string text = MakeText(300);
  const std::string bytes = WriteBase(Path("a.gguf"), text, 40, "a.kld");
  auto model = LoadOrDie(Path("a.gguf"));
  CheckLayout(bytes, *model, text, 40, pool_);
  // An odd vocabulary pads each row with one zero word; an odd n_ctx scores n_ctx/2 positions.
  const std::string odd_bytes = WriteBase(Path("odd.gguf"), text, 33, "odd.kld");
  auto odd = LoadOrDie(Path("odd.gguf"));
  CheckLayout(odd_bytes, *odd, text, 33, pool_);
  EXPECT_FALSE(std::filesystem::exists(Path("a.kld.partial")));
}

TEST_F(LogitsFileTest, ReaderReturnsWhatWasWritten) {
  const std::string bytes = WriteBase(Path("a.gguf"), MakeText(300), 40, "r.kld");
  auto reader = LogitsFileReader::Open(Path("r.kld"));
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  EXPECT_EQ((*reader)->n_ctx(), 40);
  EXPECT_EQ((*reader)->n_vocab(), 512);
  const int64_t n_chunk = (*reader)->n_chunk();
  ASSERT_GE(n_chunk, 2);
  EXPECT_EQ(0, std::memcmp((*reader)->tokens().data(), bytes.data() + 20, 4 * 40 * n_chunk));
  std::vector<uint16_t> rows;
  size_t offset = 20 + 4 * 40 * n_chunk;
  for (int64_t c = 0; c < n_chunk; ++c) {
    ASSERT_TRUE((*reader)->ReadChunk(rows).ok());
    ASSERT_EQ(rows.size(), static_cast<size_t>(19 * LogitsRowWords(512)));
    EXPECT_EQ(0, std::memcmp(rows.data(), bytes.data() + offset, 2 * rows.size()));
    offset += 2 * rows.size();
  }
  EXPECT_FALSE((*reader)->ReadChunk(rows).ok());
}

TEST_F(LogitsFileTest, DamagedFilesAreRefused) {
  const std::string good = WriteBase(Path("a.gguf"), MakeText(300), 40, "good.kld");
  const int64_t n_chunk = Get<int32_t>(good, 16);
  const size_t rows_at = 20 + 4 * 40 * static_cast<size_t>(n_chunk);
  const size_t row_bytes = 2 * static_cast<size_t>(LogitsRowWords(512));
  struct Case {
    std::string name, bytes, expect;
  };
  std::vector<Case> cases;
  cases.push_back({"empty", "", "not a llama.cpp logits file"});
  cases.push_back({"garbage", std::string(5000, '\x5a'), "not a llama.cpp logits file"});
  cases.push_back({"truncated", good.substr(0, good.size() - 7), "truncated"});
  cases.push_back({"header only", good.substr(0, 20), "truncated"});
  cases.push_back({"trailing", good + "xx", "need"});
  std::string b = good;
  const int32_t huge = 0x7fffffff;
  std::memcpy(b.data() + 16, &huge, 4);
  cases.push_back({"huge n_chunk", b, "need more"});
  b = good;
  std::memcpy(b.data() + 8, &huge, 4);
  cases.push_back({"huge n_ctx", b, "need more"});
  b = good;
  const int32_t negative = -3;
  std::memcpy(b.data() + 12, &negative, 4);
  cases.push_back({"negative n_vocab", b, "n_vocab -3 at byte 12"});
  b = good;
  const int32_t two = 2;
  std::memcpy(b.data() + 8, &two, 4);
  cases.push_back({"n_ctx 2", b, "n_ctx 2 at byte 8"});
  b = good;
  const int32_t bad_token = 600;
  std::memcpy(b.data() + 20 + 4 * 45, &bad_token, 4);
  cases.push_back({"token out of range", b, "token 600 at byte 200"});
  for (const Case& c : cases) {
    WriteBytes(Path("bad.kld"), c.bytes);
    auto r = LogitsFileReader::Open(Path("bad.kld"));
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos) << c.name << ": " << r.status().message();
    EXPECT_NE(r.status().message().find("bad.kld"), std::string::npos) << c.name;
  }

  // A row with a NaN scale in the second chunk: found when that chunk is read.
  b = good;
  const float nan = std::nanf("");
  std::memcpy(b.data() + rows_at + (19 + 3) * row_bytes, &nan, 4);
  WriteBytes(Path("bad.kld"), b);
  auto model = LoadOrDie(Path("a.gguf"));
  auto r = CompareWithKlDivergenceBase(*model, pool_, Path("bad.kld"), false);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("chunk 1 row 3"), std::string::npos) << r.status().message();
  EXPECT_FALSE(CompareWithKlDivergenceBase(*model, pool_, Path("missing.kld"), false).ok());
}

// A file written by llama.cpp's llama-perplexity (b4747) on stories260K
// with an F32 KV cache:
// leanlm tokenizes the text into the same tokens, stores nearly the same
// log-probabilities, and reads llama.cpp's with a divergence near zero.
TEST_F(LogitsFileTest, ReadsLlamaCppFile) {
  const std::string data = SharedData();
  if (data.empty()) GTEST_SKIP() << "../shared/data is absent: skipping the llama.cpp logits-file test";
  const std::string fixture = std::string(LEANLM_SOURCE_DIR) + "/tests/fixtures/kld/stories260K_ctx64_2chunks.kld";
  const std::string theirs = ReadAll(fixture);
  ASSERT_FALSE(theirs.empty()) << fixture;
  auto model = LoadOrDie(data + "/stories260K/stories260K.gguf");
  const std::string text = FirstStories(5);

  // Our file on the same text, cut to llama.cpp's two chunks.
  const std::vector<int32_t> tokens = model->tokenizer().Encode(text, true, false);
  ASSERT_GE(tokens.size(), 128u);
  std::string two_chunks;
  {
    ScoringPlan cut = PlanChunks(std::vector<int32_t>(tokens.begin(), tokens.begin() + 128), 64, model->tokenizer().bos());
    auto writer = LogitsFileWriter::Create(Path("ours.kld"), 64, 512, cut.stream);
    ASSERT_TRUE(writer.ok());
    for (const auto& seq : cut.sequences) {
      ASSERT_TRUE((*writer)->AddChunk(AllLogits(*model, seq, pool_).data(), pool_).ok());
    }
    ASSERT_TRUE((*writer)->Finish().ok());
    two_chunks = ReadAll(Path("ours.kld"));
  }
  ASSERT_EQ(two_chunks.size(), theirs.size());
  EXPECT_EQ(two_chunks.substr(0, 20 + 4 * 128), theirs.substr(0, 20 + 4 * 128));  // header and tokens
  // With an F32 KV cache (the fixture's -ctk f32 -ctv f32) only float
  // rounding separates the two forwards: nearly every level is the same.
  const size_t words = static_cast<size_t>(LogitsRowWords(512));
  int64_t same_levels = 0, n_levels = 0, max_level_diff = 0;
  for (size_t off = 20 + 4 * 128; off < theirs.size(); off += 2 * words) {
    EXPECT_NEAR(Get<float>(two_chunks, off), Get<float>(theirs, off), 1e-5 * Get<float>(theirs, off));
    EXPECT_NEAR(Get<float>(two_chunks, off + 4), Get<float>(theirs, off + 4), 1e-4);
    for (size_t i = 0; i < 512; ++i) {
      const int l1 = Get<uint16_t>(two_chunks, off + 8 + 2 * i), l2 = Get<uint16_t>(theirs, off + 8 + 2 * i);
      same_levels += l1 == l2;
      max_level_diff = std::max<int64_t>(max_level_diff, std::abs(l1 - l2));
      ++n_levels;
    }
  }
  std::printf("levels identical to llama.cpp's: %.2f%%, largest difference %lld\n", 100.0 * same_levels / n_levels,
              static_cast<long long>(max_level_diff));
  EXPECT_GT(same_levels, 0.95 * static_cast<double>(n_levels));
  EXPECT_LE(max_level_diff, 3);

  // Reading llama.cpp's file with the same model: only rounding differs.
  auto r = CompareWithKlDivergenceBase(*model, pool_, fixture, false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->n_scored, 2 * 31);
  EXPECT_LT(std::fabs(r->kld.value), 1e-5);
  EXPECT_GE(r->same_top.value, 60.0 / 62);
  EXPECT_NEAR(r->nll_base.value, r->nll.value, 2e-4);
}

}  // namespace
}  // namespace leanlm::testing
