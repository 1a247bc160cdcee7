// llama2.c v0 checkpoints: stories260K.bin against llama.cpp's GGUF of the
// same weights, a synthetic checkpoint whose sections carry their own index
// (so every view's position is checked), and malformed headers.
#include "io/llama2c.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "io/gguf.h"
#include "gguf_test_util.h"

namespace leanlm {
namespace {

using testing_util::DataDir;
using testing_util::FileExists;
using testing_util::TempDir;

std::string Stories(const char* name) { return DataDir() + "/stories260K/" + name; }

void WriteFile(const std::string& path, const void* data, size_t n) {
  std::ofstream f(path, std::ios::binary);
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
}

TEST(Llama2c, Stories260KMatchesGguf) {
  if (!FileExists(Stories("stories260K.bin")) || !FileExists(Stories("stories260K.gguf"))) {
    GTEST_SKIP() << "../shared/data/stories260K not present";
  }
  auto src = LoadLlama2c(Stories("stories260K.bin"), {});
  ASSERT_TRUE(src.ok()) << src.status().message();
  const ModelConfig& c = src->config;
  EXPECT_EQ(src->format, ModelFormat::kLlama2c);
  EXPECT_EQ(c.arch, "llama");
  EXPECT_EQ(c.n_embd, 64);
  EXPECT_EQ(c.n_ff, 172);
  EXPECT_EQ(c.n_layer, 5);
  EXPECT_EQ(c.n_head, 8);
  EXPECT_EQ(c.n_head_kv, 4);
  EXPECT_EQ(c.n_vocab, 512);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.n_ctx_train, 512);
  EXPECT_EQ(c.norm_eps, 1e-5f);
  EXPECT_EQ(c.rope_theta, 10000.0f);
  EXPECT_FALSE(c.rope_neox);
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_FALSE(src->vocab.has_value());
  EXPECT_EQ(src->tensors.size(), 47u);  // the GGUF's 48 less output.weight
  EXPECT_EQ(src->tensors.count("output.weight"), 0u);

  // Zero copy: every view points into the mapped file.
  ASSERT_EQ(src->keep_alive.size(), 1u);
  auto file = std::static_pointer_cast<const MappedFile>(src->keep_alive[0]);
  for (const auto& [name, v] : src->tensors) {
    const auto* p = static_cast<const uint8_t*>(v.data);
    EXPECT_TRUE(p >= file->data() && p + v.bytes() <= file->data() + file->size()) << name;
  }

  auto gguf = GgufFile::Open(Stories("stories260K.gguf"));
  ASSERT_TRUE(gguf.ok());
  for (const GgufTensorInfo& t : (*gguf)->tensors()) {
    const std::string name = t.name == "output.weight" ? "token_embd.weight" : t.name;
    auto it = src->tensors.find(name);
    ASSERT_NE(it, src->tensors.end()) << name;
    EXPECT_EQ(it->second.shape_string(), t.view.shape_string()) << name;
    ASSERT_EQ(it->second.bytes(), t.view.bytes()) << name;
    EXPECT_EQ(std::memcmp(it->second.data, t.view.data, t.view.bytes()), 0) << name;
  }
}

// A tiny checkpoint, each section filled with its own number, unshared
// classifier; the layout is the one llama2.c's export.py writes.
std::vector<uint8_t> Synthetic(int32_t dim, int32_t hidden, int32_t layers, int32_t heads, int32_t kv_heads,
                               int32_t vocab, int32_t seq_len) {
  const int32_t header[7] = {dim, hidden, layers, heads, kv_heads, vocab, seq_len};
  const int64_t v = std::abs(vocab), kv = dim / heads * kv_heads, hs = dim / heads;
  const int64_t sizes[] = {v * dim,      layers * dim,          layers * dim * dim, layers * kv * dim,
                           layers * kv * dim, layers * dim * dim, layers * dim,       layers * hidden * dim,
                           layers * dim * hidden, layers * hidden * dim, dim, seq_len * hs / 2, seq_len * hs / 2,
                           vocab < 0 ? v * dim : 0};
  std::vector<uint8_t> out(sizeof(header));
  std::memcpy(out.data(), header, sizeof(header));
  float id = 0;
  for (int64_t n : sizes) {
    for (int64_t i = 0; i < n; ++i) {
      const float x = id + static_cast<float>(i) / static_cast<float>(n);  // section id, then position
      const auto* b = reinterpret_cast<const uint8_t*>(&x);
      out.insert(out.end(), b, b + 4);
    }
    ++id;
  }
  return out;
}

TEST(Llama2c, SectionLayout) {
  TempDir tmp;
  const auto bytes = Synthetic(8, 12, 2, 4, 2, -10, 6);
  WriteFile(tmp.File("m.bin"), bytes.data(), bytes.size());
  auto src = LoadLlama2c(tmp.File("m.bin"), {});
  ASSERT_TRUE(src.ok()) << src.status().message();
  EXPECT_FALSE(src->config.tied_embeddings);
  EXPECT_EQ(src->config.n_vocab, 10);
  auto first = [&](const std::string& name) { return src->tensors.at(name).f32()[0]; };
  auto last = [&](const std::string& name) {
    const TensorView& t = src->tensors.at(name);
    return t.f32()[t.elements() - 1];
  };
  // Section k of a per-layer tensor: layer l starts at k + l / n_layers.
  EXPECT_EQ(first("token_embd.weight"), 0.0f);
  EXPECT_EQ(first("blk.0.attn_norm.weight"), 1.0f);
  EXPECT_EQ(first("blk.1.attn_norm.weight"), 1.5f);
  EXPECT_EQ(first("blk.0.attn_q.weight"), 2.0f);
  EXPECT_EQ(first("blk.1.attn_k.weight"), 3.5f);
  EXPECT_EQ(first("blk.1.attn_v.weight"), 4.5f);
  EXPECT_EQ(first("blk.0.attn_output.weight"), 5.0f);
  EXPECT_EQ(first("blk.1.ffn_norm.weight"), 6.5f);
  EXPECT_EQ(first("blk.0.ffn_gate.weight"), 7.0f);
  EXPECT_EQ(first("blk.1.ffn_down.weight"), 8.5f);
  EXPECT_EQ(first("blk.0.ffn_up.weight"), 9.0f);
  EXPECT_EQ(first("output_norm.weight"), 10.0f);
  EXPECT_EQ(first("output.weight"), 13.0f);  // after the two freq_cis tables (11, 12)
  EXPECT_LT(last("blk.1.ffn_up.weight"), 10.0f);
  EXPECT_LT(last("output.weight"), 14.0f);
  EXPECT_EQ(src->tensors.at("blk.0.attn_k.weight").shape_string(), "[8, 4]");  // kv_dim 2 heads x 2
  EXPECT_EQ(src->tensors.at("blk.0.ffn_down.weight").shape_string(), "[12, 8]");
  EXPECT_EQ(src->tensors.at("output.weight").shape_string(), "[8, 10]");
}

std::string LoadError(const std::vector<uint8_t>& bytes) {
  TempDir tmp;
  WriteFile(tmp.File("bad.bin"), bytes.data(), bytes.size());
  auto src = LoadLlama2c(tmp.File("bad.bin"), {});
  EXPECT_FALSE(src.ok());
  return src.ok() ? "" : src.status().message();
}

TEST(Llama2c, BadHeaders) {
  auto has = [](const std::string& msg, const char* fragment) {
    EXPECT_NE(msg.find(fragment), std::string::npos) << "missing '" << fragment << "' in: " << msg;
    EXPECT_NE(msg.find("bad.bin"), std::string::npos) << msg;
  };
  const auto good = Synthetic(8, 12, 2, 4, 2, 10, 6);
  has(LoadError(std::vector<uint8_t>(good.begin(), good.begin() + 20)), "file ends inside the llama2.c header");
  has(LoadError(std::vector<uint8_t>(good.begin(), good.end() - 4)), "but the file has");
  auto extra = good;
  extra.push_back(0);
  has(LoadError(extra), "describes");
  auto field = [&](int index, int32_t value) {
    auto b = good;
    std::memcpy(b.data() + 4 * index, &value, 4);
    return LoadError(b);
  };
  has(field(3, 0), "at byte 12: llama2.c header field n_heads is 0");
  has(field(0, -8), "field dim is -8");
  has(field(0, 1 << 30), "field dim is 1073741824");
  has(field(5, INT32_MIN), "field vocab_size is -2147483648");
  has(field(0, 12), "dim 12 is not n_heads 4 times an even head size");
  has(field(4, 3), "n_heads 4 is not a multiple of n_kv_heads 3");
  has(field(2, 3), "describes");
}

TEST(Llama2c, VersionedExportIsNamed) {
  if (!FileExists(Stories("stories260K_q8.bin"))) GTEST_SKIP() << "../shared/data/stories260K not present";
  auto src = LoadLlama2c(Stories("stories260K_q8.bin"), {});
  ASSERT_FALSE(src.ok());
  EXPECT_NE(src.status().message().find("llama2.c version 2 export"), std::string::npos) << src.status().message();
}

}  // namespace
}  // namespace leanlm
