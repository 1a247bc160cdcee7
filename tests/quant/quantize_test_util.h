// Helpers for the QuantizeModel tests: models with chosen shapes, expected
// type tables (as llama-quantize wrote them) and the checks every recipe gets.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>

#include "base/thread_pool.h"
#include "io/gguf.h"
#include "io/gguf_test_util.h"
#include "quant/quantize_model.h"
#include "quant/registry.h"
#include "runtime/init_model.h"
#include "runtime/model.h"
#include "runtime/session.h"

namespace leanlm::quant_test {

using testing_util::TempDir;

// Expected types by tensor kind ("attn_v" for blk.N.attn_v.weight); a comma
// list gives one type per layer. Norms are checked separately (never quantized).
using TypeTable = std::map<std::string, std::string>;

inline TypeTable ParseTable(const std::string& spec) {
  TypeTable t;
  std::istringstream in(spec);
  std::string item;
  while (in >> item) {
    const size_t eq = item.find('=');
    t[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return t;
}

// A table where every matrix gets `type` except those listed in `rest`.
inline std::string Uniform(const std::string& type, const std::string& rest = "") {
  TypeTable t =
      ParseTable("token_embd=" + type + " output=" + type + " attn_q=" + type + " attn_k=" + type + " attn_v=" + type +
                 " attn_output=" + type + " ffn_gate=" + type + " ffn_up=" + type + " ffn_down=" + type);
  for (const auto& [k, v] : ParseTable(rest)) t[k] = v;
  std::string s;
  for (const auto& [k, v] : t) s += k + "=" + v + " ";
  return s;
}

inline std::string Kind(const std::string& name, int* layer) {
  std::string n = name.substr(0, name.size() - std::strlen(".weight"));
  *layer = -1;
  if (n.rfind("blk.", 0) == 0) {
    const size_t dot = n.find('.', 4);
    *layer = std::stoi(n.substr(4, dot - 4));
    n = n.substr(dot + 1);
  }
  return n;
}

inline std::string ExpectedType(const TypeTable& table, const std::string& name) {
  int layer = -1;
  const std::string kind = Kind(name, &layer);
  auto it = table.find(kind);
  if (it == table.end()) return "?";
  std::vector<std::string> per_layer;
  std::stringstream ss(it->second);
  for (std::string t; std::getline(ss, t, ',');) per_layer.push_back(t);
  if (per_layer.size() == 1 || layer < 0) return per_layer[0];
  return layer < static_cast<int>(per_layer.size()) ? per_layer[layer] : "?";
}

inline std::unique_ptr<GgufFile> Open(const std::string& path) {
  auto g = GgufFile::Open(path);
  EXPECT_TRUE(g.ok()) << g.status().message();
  return g.ok() ? std::move(g).value() : nullptr;
}

// Every tensor's type follows the table, and its bytes are the reference
// quantizer of the input rows (or the input bytes when kept).
inline void ExpectTypesAndBytes(const GgufFile& in, const GgufFile& out, const TypeTable& table,
                                const std::string& what) {
  ASSERT_EQ(in.tensors().size(), out.tensors().size()) << what;
  for (const GgufTensorInfo& o : out.tensors()) {
    SCOPED_TRACE(what + ": " + o.name);
    const GgufTensorInfo* i = in.FindTensor(o.name);
    ASSERT_NE(i, nullptr);
    ASSERT_EQ(i->view.ne, o.view.ne);
    const bool is_norm = o.name.find("_norm.weight") != std::string::npos;
    EXPECT_EQ(TypeName(o.view.type), is_norm ? std::string(TypeName(i->view.type)) : ExpectedType(table, o.name));
    if (o.view.type == i->view.type) {
      EXPECT_EQ(std::memcmp(o.view.data, i->view.data, o.view.bytes()), 0);
      continue;
    }
    const TypeTraits& from = GetTypeTraits(i->view.type);
    const TypeTraits& to = GetTypeTraits(o.view.type);
    const int64_t ne0 = o.view.ne[0];
    std::vector<float> row(static_cast<size_t>(ne0));
    std::vector<uint8_t> expected(o.view.row_bytes());
    int64_t mismatched = 0;
    for (int64_t r = 0; r < o.view.rows(); ++r) {
      from.to_float(i->view.row(r), row.data(), ne0);
      to.from_float(row.data(), expected.data(), ne0);
      mismatched += std::memcmp(expected.data(), o.view.row(r), expected.size()) != 0;
    }
    EXPECT_EQ(mismatched, 0) << "rows differ from the reference quantizer";
  }
}

inline void ExpectLlamaMetadata(const GgufFile& in, const GgufFile& out, uint32_t file_type) {
  EXPECT_EQ(out.GetInt("general.file_type").value(), file_type);
  EXPECT_EQ(out.GetInt("general.quantization_version").value(), 2);
  // Everything else is copied, in order; the two keys come last as llama.cpp writes them.
  std::vector<std::string> keys_in, keys_out;
  for (const auto& [k, v] : in.metadata()) {
    if (k != "general.file_type" && k != "general.quantization_version") keys_in.push_back(k);
  }
  for (const auto& [k, v] : out.metadata()) keys_out.push_back(k);
  keys_in.push_back("general.quantization_version");
  keys_in.push_back("general.file_type");
  EXPECT_EQ(keys_in, keys_out);
  EXPECT_EQ(in.GetStringArray("tokenizer.ggml.tokens").value(), out.GetStringArray("tokenizer.ggml.tokens").value());
}

// Greedy tokens from BOS.
inline std::vector<int32_t> Greedy(const std::string& path, int64_t n) {
  auto model = Model::Load(path);
  EXPECT_TRUE(model.ok()) << model.status().message();
  if (!model.ok()) return {};
  ThreadPool pool(2);
  Session session(**model, pool);
  EXPECT_TRUE(session.Feed({(*model)->tokenizer().bos()}).ok());
  GenerateOptions options;
  options.n_predict = n;
  options.sampler.temperature = 0;
  options.stop_at_end = false;
  std::vector<int32_t> out;
  auto stats = session.Generate(
      options, [](std::string_view) {}, &out);
  EXPECT_TRUE(stats.ok()) << stats.status().message();
  return out;
}

// Sum of squared errors of the dequantized matrices over their sum of squares.
inline double RelativeError(const GgufFile& in, const GgufFile& out) {
  double err = 0, norm = 0;
  for (const GgufTensorInfo& o : out.tensors()) {
    if (o.view.n_dims < 2) continue;
    const GgufTensorInfo* i = in.FindTensor(o.name);
    const int64_t ne0 = o.view.ne[0];
    std::vector<float> a(static_cast<size_t>(ne0)), b(static_cast<size_t>(ne0));
    for (int64_t r = 0; r < o.view.rows(); ++r) {
      GetTypeTraits(i->view.type).to_float(i->view.row(r), a.data(), ne0);
      GetTypeTraits(o.view.type).to_float(o.view.row(r), b.data(), ne0);
      for (int64_t k = 0; k < ne0; ++k) {
        err += (a[k] - b[k]) * double{a[k] - b[k]};
        norm += a[k] * double{a[k]};
      }
    }
  }
  return err / norm;
}

inline Status Quantize(const std::string& in, const std::string& out, const std::string& recipe,
                       QuantizeReport* report = nullptr, std::vector<std::string> overrides = {},
                       bool keep_output = false) {
  QuantizeOptions o;
  o.recipe = recipe;
  o.tensor_types = std::move(overrides);
  o.keep_output = keep_output;
  o.n_threads = 2;
  return QuantizeModel(in, out, o, report);
}

inline std::string WriteModel(const ModelConfig& config, const std::string& path) {
  InitOptions o;
  o.type = DType::kF32;
  o.seed = 7;
  Status st = WriteRandomModel(config, o, path);
  EXPECT_TRUE(st.ok()) << st.message();
  return path;
}

inline ModelConfig Tiny() { return FindModelPreset("tiny")->config; }

// 256-wide rows, so the K-quants apply without fallback; with 8 layers the
// first-eighth and use_more_bits rules pick distinct layers; 4 query heads
// per KV head, so the GQA rules fire.
inline ModelConfig K256(int64_t n_layer = 8) {
  ModelConfig c = Tiny();
  c.n_embd = 256;
  c.n_head = 4;
  c.n_head_kv = 1;
  c.head_dim = 64;
  c.n_ff = 256;
  c.n_layer = n_layer;
  return c;
}

struct Case {
  std::string recipe;
  uint32_t file_type;
  std::string table;
};

inline void RunCases(const std::string& input, const std::vector<Case>& cases, const TempDir& tmp, int64_t n_generate) {
  auto in = Open(input);
  ASSERT_NE(in, nullptr);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.recipe);
    const std::string out = tmp.File(c.recipe + ".gguf");
    QuantizeReport report;
    Status st = Quantize(input, out, c.recipe, &report);
    ASSERT_TRUE(st.ok()) << st.message();
    auto q = Open(out);
    ASSERT_NE(q, nullptr);
    ExpectTypesAndBytes(*in, *q, ParseTable(c.table), c.recipe);
    ExpectLlamaMetadata(*in, *q, c.file_type);
    uint64_t bytes = 0;
    for (const GgufTensorInfo& t : q->tensors()) bytes += t.view.bytes();
    EXPECT_EQ(report.bytes_out, bytes);
    EXPECT_EQ(report.tensors.size(), q->tensors().size());
    if (n_generate > 0) {
      EXPECT_EQ(Greedy(out, n_generate).size(), static_cast<size_t>(n_generate));
    }
    std::filesystem::remove(out);
  }
}

}  // namespace leanlm::quant_test
