// CompareModels against the definitions: a model against itself, two random
// models against a long-double computation from their logits, stories260K
// against its F16 copy, and the llama.cpp base-logits file round trip.
#include "eval/compare.h"

#include <gtest/gtest.h>

#include "compare_fixture.h"
#include "eval/perplexity.h"

namespace leanlm::testing {
namespace {

class CompareTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    WriteTinyModel(*tmp_ / "a.gguf", 1);
    WriteTinyModel(*tmp_ / "b.gguf", 2);
    WriteTinyModel(*tmp_ / "odd.gguf", 3, 509);
  }
  static void TearDownTestSuite() { delete tmp_; }
  static std::string Path(const std::string& name) { return *tmp_ / name; }

  CompareOptions Options(int64_t n_ctx) const {
    CompareOptions o;
    o.n_ctx = n_ctx;
    o.show_progress = false;
    return o;
  }

  ThreadPool pool_{2};
  static TempDir* tmp_;
};
TempDir* CompareTest::tmp_ = nullptr;

// Reference figures over the chunks of llama.cpp's convention, computed here
// from the two models' logits with no library statistics code.
struct Reference {
  std::vector<ReferencePosition> positions;
  long double mean(long double ReferencePosition::*field) const {
    long double s = 0;
    for (const auto& p : positions) s += p.*field;
    return s / static_cast<long double>(positions.size());
  }
  int64_t same_top() const {
    int64_t n = 0;
    for (const auto& p : positions) n += p.same_top;
    return n;
  }
};

Reference ReferenceChunks(Model& base, Model& q, const std::string& text, int64_t n_ctx, ThreadPool& pool) {
  const std::vector<int32_t> all = base.tokenizer().Encode(text, true, false);
  const int64_t n_vocab = base.config().n_vocab;
  Reference ref;
  for (size_t c = 0; (c + 1) * n_ctx <= all.size(); ++c) {
    std::vector<int32_t> chunk(all.begin() + c * n_ctx, all.begin() + (c + 1) * n_ctx);
    chunk[0] = base.tokenizer().bos();
    const auto lb = AllLogits(base, chunk, pool), lq = AllLogits(q, chunk, pool);
    for (int64_t j = n_ctx / 2; j < n_ctx - 1; ++j) {
      ref.positions.push_back(ReferenceCompare(lb.data() + j * n_vocab, lq.data() + j * n_vocab, n_vocab, chunk[j + 1]));
    }
  }
  return ref;
}

TEST_F(CompareTest, ModelAgainstItselfIsExactlyZero) {
  auto a = LoadOrDie(Path("a.gguf")), a2 = LoadOrDie(Path("a.gguf"));
  const std::string text = MakeText(600);
  auto r = CompareModels(*a, *a2, pool_, text, Options(64));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_GT(r->n_scored, 100);
  EXPECT_EQ(r->kld.value, 0.0);
  EXPECT_EQ(r->kld.error, 0.0);
  for (const Quantile& q : r->kld_quantiles) EXPECT_EQ(q.value, 0.0) << q.fraction;
  EXPECT_EQ(r->same_top.value, 1.0);
  EXPECT_EQ(r->same_top.error, 0.0);
  EXPECT_EQ(r->ppl_ratio.value, 1.0);
  EXPECT_EQ(r->log_ppl_ratio.value, 0.0);
  EXPECT_EQ(r->log_ppl_ratio.error, 0.0);
  EXPECT_EQ(r->ppl.value, r->ppl_base.value);
  EXPECT_EQ(r->p_diff.value, 0.0);
  EXPECT_EQ(r->p_diff_rms.value, 0.0);
  EXPECT_NEAR(r->log_ppl_correlation, 1.0, 1e-9);

  // The same scored tokens and NLL as the perplexity command.
  PerplexityOptions p;
  p.n_ctx = 64;
  p.show_progress = false;
  auto ppl = ComputePerplexity(*a, pool_, text, p);
  ASSERT_TRUE(ppl.ok());
  EXPECT_EQ(ppl->n_predicted, r->n_scored);
  EXPECT_EQ(ppl->n_sequences, r->n_sequences);
  EXPECT_NEAR(ppl->ppl, r->ppl.value, 1e-12 * ppl->ppl);
}

TEST_F(CompareTest, TwoModelsMatchTheDefinitions) {
  auto a = LoadOrDie(Path("a.gguf")), b = LoadOrDie(Path("b.gguf"));
  const std::string text = MakeText(500);
  const int64_t n_ctx = 48;
  auto r = CompareModels(*a, *b, pool_, text, Options(n_ctx));
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Reference ref = ReferenceChunks(*a, *b, text, n_ctx, pool_);
  ASSERT_EQ(r->n_scored, static_cast<int64_t>(ref.positions.size()));
  const double kld = static_cast<double>(ref.mean(&ReferencePosition::kld));
  EXPECT_GT(kld, 1e-3);  // the models really differ
  EXPECT_NEAR(r->kld.value, kld, 1e-9 * kld);
  EXPECT_NEAR(r->nll.value, static_cast<double>(ref.mean(&ReferencePosition::nll)), 1e-9);
  EXPECT_NEAR(r->nll_base.value, static_cast<double>(ref.mean(&ReferencePosition::nll_base)), 1e-9);
  EXPECT_NEAR(r->p_diff.value, static_cast<double>(ref.mean(&ReferencePosition::p_diff)), 1e-12);
  EXPECT_NEAR(r->log_ppl_ratio.value,
              static_cast<double>(ref.mean(&ReferencePosition::nll) - ref.mean(&ReferencePosition::nll_base)), 1e-9);
  EXPECT_DOUBLE_EQ(r->same_top.value, static_cast<double>(ref.same_top()) / static_cast<double>(r->n_scored));
  EXPECT_LT(r->same_top.value, 1.0);

  // Standard error of the mean KLD, and the quantiles, from the sorted values.
  std::vector<double> values;
  long double sq = 0;
  for (const auto& p : ref.positions) {
    values.push_back(static_cast<double>(p.kld));
    sq += (p.kld - kld) * (p.kld - kld);
  }
  const double n = static_cast<double>(values.size());
  EXPECT_NEAR(r->kld.error, std::sqrt(static_cast<double>(sq) / (n - 1) / n), 1e-6 * r->kld.error);
  std::sort(values.begin(), values.end());
  ASSERT_EQ(r->kld_quantiles.size(), 10u);
  EXPECT_NEAR(r->kld_quantiles.front().value, values.back(), 1e-12);
  EXPECT_NEAR(r->kld_quantiles.back().value, values.front(), 1e-12);
  const size_t m = values.size();
  const double median = m % 2 ? values[m / 2] : 0.5 * (values[m / 2 - 1] + values[m / 2]);
  EXPECT_EQ(r->kld_quantiles[5].fraction, 0.5);
  EXPECT_NEAR(r->kld_quantiles[5].value, median, 1e-12);
  for (size_t i = 1; i < r->kld_quantiles.size(); ++i) {
    EXPECT_LE(r->kld_quantiles[i].value, r->kld_quantiles[i - 1].value);
  }
}

TEST_F(CompareTest, DocumentsScoreEveryPrediction) {
  auto a = LoadOrDie(Path("a.gguf")), b = LoadOrDie(Path("b.gguf"));
  const std::vector<std::string> docs = {MakeText(10, 1), MakeText(8, 2), MakeText(200, 3)};
  const std::string text = "  " + docs[0] + "\n@@\n" + docs[1] + "@@@@" + docs[2];
  CompareOptions o = Options(64);
  o.documents = true;
  o.separator = "@@";
  auto r = CompareModels(*a, *b, pool_, text, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  Reference ref;
  int64_t truncated = 0;
  for (const std::string& doc : docs) {
    std::vector<int32_t> tokens = a->tokenizer().Encode(SplitDocuments(doc, "")[0], true, false);
    if (tokens.size() > 64) {
      tokens.resize(64);
      ++truncated;
    }
    const auto lb = AllLogits(*a, tokens, pool_), lq = AllLogits(*b, tokens, pool_);
    for (size_t j = 0; j + 1 < tokens.size(); ++j) {
      ref.positions.push_back(ReferenceCompare(lb.data() + j * 512, lq.data() + j * 512, 512, tokens[j + 1]));
    }
  }
  EXPECT_TRUE(r->documents);
  EXPECT_EQ(r->n_sequences, 3);
  EXPECT_EQ(r->n_truncated, truncated);
  EXPECT_EQ(truncated, 1);
  ASSERT_EQ(r->n_scored, static_cast<int64_t>(ref.positions.size()));
  const double kld = static_cast<double>(ref.mean(&ReferencePosition::kld));
  EXPECT_NEAR(r->kld.value, kld, 1e-9 * kld);
  EXPECT_DOUBLE_EQ(r->same_top.value * static_cast<double>(r->n_scored), static_cast<double>(ref.same_top()));
}

TEST_F(CompareTest, LogitsFileRoundTripMatchesSideBySide) {
  auto a = LoadOrDie(Path("a.gguf")), b = LoadOrDie(Path("b.gguf"));
  const std::string text = MakeText(500);
  const std::string file = Path("a.kld");
  auto written = WriteKlDivergenceBase(*a, pool_, text, 48, file, false);
  ASSERT_TRUE(written.ok()) << written.status().message();
  PerplexityOptions p;
  p.n_ctx = 48;
  p.show_progress = false;
  auto ppl = ComputePerplexity(*a, pool_, text, p);
  ASSERT_TRUE(ppl.ok());
  EXPECT_EQ(written->ppl, ppl->ppl);  // writing the file changes nothing in the perplexity

  auto via_file = CompareWithKlDivergenceBase(*b, pool_, file, false);
  ASSERT_TRUE(via_file.ok()) << via_file.status().message();
  auto direct = CompareModels(*a, *b, pool_, text, Options(48));
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(via_file->n_scored, direct->n_scored);
  EXPECT_EQ(via_file->n_sequences, direct->n_sequences);
  EXPECT_EQ(via_file->ppl.value, direct->ppl.value);  // Q's side is computed the same way
  // The base side went through 16-bit log-probabilities (steps of at most 16/65535).
  EXPECT_NEAR(via_file->nll_base.value, direct->nll_base.value, 1.3e-4);
  EXPECT_NEAR(via_file->kld.value, direct->kld.value, 2e-3 * direct->kld.value);
  EXPECT_NEAR(via_file->p_diff.value, direct->p_diff.value, 1e-4);
  EXPECT_NEAR(via_file->same_top.value, direct->same_top.value, 2.0 / static_cast<double>(direct->n_scored));
  EXPECT_NEAR(via_file->kld_quantiles[5].value, direct->kld_quantiles[5].value,
              2e-3 * direct->kld_quantiles[5].value);

  // Against itself through the file: only the quantization remains.
  auto self = CompareWithKlDivergenceBase(*a, pool_, file, false);
  ASSERT_TRUE(self.ok());
  EXPECT_LT(std::fabs(self->kld.value), 1e-6);
  EXPECT_GT(self->same_top.value, 0.99);
}

TEST_F(CompareTest, DifferentVocabulariesAreRefused) {
  auto a = LoadOrDie(Path("a.gguf")), odd = LoadOrDie(Path("odd.gguf"));
  auto r = CompareModels(*a, *odd, pool_, MakeText(100), Options(32));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("different vocabularies"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("509"), std::string::npos) << r.status().message();

  // Same size, one token renamed.
  const std::string renamed = Path("renamed.gguf");
  ASSERT_TRUE(CopyGguf(Path("a.gguf"), renamed, false, [](GgufWriter& w, const GgufFile& g) {
                auto tokens = g.GetStringArray("tokenizer.ggml.tokens");
                ASSERT_TRUE(tokens.ok());
                (*tokens)[300] = "zzz-renamed";
                w.Set("tokenizer.ggml.tokens", GgufValue::StrArray(*tokens));
              }).ok());
  auto c = LoadOrDie(renamed);
  r = CompareModels(*a, *c, pool_, MakeText(100), Options(32));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("token 300"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("zzz-renamed"), std::string::npos) << r.status().message();

  // A base file over another vocabulary.
  const std::string file = Path("vocab.kld");
  ASSERT_TRUE(WriteKlDivergenceBase(*a, pool_, MakeText(200), 32, file, false).ok());
  auto f = CompareWithKlDivergenceBase(*odd, pool_, file, false);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("512"), std::string::npos) << f.status().message();
}

TEST_F(CompareTest, TooLittleTextIsAnError) {
  auto a = LoadOrDie(Path("a.gguf"));
  auto r = CompareModels(*a, *a, pool_, "the cat", Options(64));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("fewer than one chunk"), std::string::npos) << r.status().message();
  auto w = WriteKlDivergenceBase(*a, pool_, "the cat", 64, Path("short.kld"), false);
  ASSERT_FALSE(w.ok());
  EXPECT_FALSE(std::filesystem::exists(Path("short.kld")));
}

// stories260K against a copy with F16 matrices: a small, positive divergence.
TEST_F(CompareTest, Stories260KAgainstItsF16Copy) {
  const std::string data = SharedData();
  if (data.empty()) GTEST_SKIP() << "../shared/data is absent: skipping the stories260K comparison";
  const std::string f32 = data + "/stories260K/stories260K.gguf", f16 = Path("stories260K-f16.gguf");
  ASSERT_TRUE(CopyGguf(f32, f16, true).ok());
  auto base = LoadOrDie(f32), q = LoadOrDie(f16);
  ASSERT_EQ(q->source().tensors.at("blk.0.attn_q.weight").type, DType::kF16);
  const std::string text = FirstStories(12);
  auto r = CompareModels(*base, *q, pool_, text, Options(128));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_GT(r->n_scored, 500);
  EXPECT_GT(r->kld.value, 0.0);
  EXPECT_LT(r->kld.value, 1e-4);
  EXPECT_GE(r->kld_quantiles.back().value, -1e-12);  // every KLD is >= 0 up to rounding
  EXPECT_NEAR(r->ppl_ratio.value, 1.0, 2e-3);
  EXPECT_GT(r->same_top.value, 0.98);
  // In-domain text: the author reports 1.30 nats/token on the validation split.
  EXPECT_GT(r->nll_base.value, 0.9);
  EXPECT_LT(r->nll_base.value, 1.8);
}

}  // namespace
}  // namespace leanlm::testing
