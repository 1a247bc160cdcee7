// Models, text and independent reference computations for the compare tests:
// random models written by WriteRandomModel, a GGUF copy with F16 matrices
// (as llama-quantize F16 writes it), and log-softmax / KL divergence in long
// double straight from the definitions.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/fp16.h"
#include "io/gguf.h"
#include "runtime/init_model.h"
#include "runtime/model.h"
#include "support/cli_runner.h"

namespace leanlm::testing {

// A random model of the "tiny" preset shapes with `n_vocab` tokens. A large
// init_std makes the two models' distributions clearly different.
inline void WriteTinyModel(const std::string& path, uint64_t seed, int64_t n_vocab = 512) {
  auto preset = FindModelPreset("tiny");
  ASSERT_TRUE(preset.ok());
  ModelConfig config = preset->config;
  config.n_vocab = n_vocab;
  InitOptions options;
  options.type = DType::kF32;
  options.seed = seed;
  options.init_std = 0.25f;
  const Status st = WriteRandomModel(config, options, path);
  ASSERT_TRUE(st.ok()) << st.message();
}

// Copies a GGUF, letting `edit` change metadata and storing 2-D F32 tensors as F16.
inline Status CopyGguf(const std::string& in, const std::string& out, bool to_f16,
                       const std::function<void(GgufWriter&, const GgufFile&)>& edit = nullptr) {
  auto gguf = GgufFile::Open(in);
  if (!gguf.ok()) return gguf.status();
  GgufWriter writer;
  for (const auto& [key, value] : (*gguf)->metadata()) writer.Set(key, value);
  if (to_f16) writer.Set("general.file_type", GgufValue::U32(1));
  if (edit) edit(writer, **gguf);
  std::vector<std::unique_ptr<uint16_t[]>> buffers;
  for (const GgufTensorInfo& t : (*gguf)->tensors()) {
    TensorView view = t.view;
    if (to_f16 && view.type == DType::kF32 && view.n_dims == 2) {
      const int64_t n = view.elements();
      buffers.push_back(std::make_unique<uint16_t[]>(static_cast<size_t>(n)));
      for (int64_t i = 0; i < n; ++i) buffers.back()[i] = Fp32ToFp16(view.f32()[i]);
      view.data = buffers.back().get();
      view.type = DType::kF16;
    }
    if (Status st = writer.AddTensor(t.name, view); !st.ok()) return st;
  }
  return writer.Write(out);
}

inline std::unique_ptr<Model> LoadOrDie(const std::string& path) {
  auto m = Model::Load(path);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? std::move(m.value()) : nullptr;
}

// Deterministic English-like text of about `words` words.
inline std::string MakeText(int words, uint32_t seed = 7) {
  static const char* kWords[] = {"the",   "cat",  "sat",   "on",    "a",    "mat",   "and",  "looked", "at",
                                 "bird",  "in",   "tree",  "she",   "was",  "happy", "one",  "day",    "they",
                                 "went",  "to",   "park",  "big",   "red",  "ball",  "said", "hello",  "friend"};
  std::string text;
  uint32_t x = seed;
  for (int i = 0; i < words; ++i) {
    x = x * 1664525u + 1013904223u;
    text += kWords[(x >> 16) % (sizeof(kWords) / sizeof(kWords[0]))];
    text += (x >> 8) % 11 == 0 ? ". " : " ";
  }
  return text;
}

// The first `n` TinyStories of ../shared/data, joined as in the file, or "" when absent.
inline std::string FirstStories(int n) {
  const std::string data = SharedData();
  if (data.empty()) return "";
  const std::string all = ReadAll(data + "/text/tinystories_valid_first1000.txt");
  const std::string sep = "<|endoftext|>";
  size_t pos = 0, end = 0;
  for (int i = 0; i < n; ++i) {
    end = all.find(sep, pos);
    if (end == std::string::npos) return all;
    pos = end + sep.size();
  }
  return all.substr(0, end);
}

// log softmax in long double.
inline std::vector<long double> ReferenceLogSoftmax(const float* logits, int64_t n) {
  long double max = logits[0];
  for (int64_t i = 1; i < n; ++i) max = std::max<long double>(max, logits[i]);
  long double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<long double>(logits[i]) - max);
  std::vector<long double> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[i] = logits[i] - max - std::log(sum);
  return out;
}

// Per scored position, straight from the definitions.
struct ReferencePosition {
  long double kld = 0, nll = 0, nll_base = 0, p_diff = 0;
  bool same_top = false;
};

inline ReferencePosition ReferenceCompare(const float* base, const float* q, int64_t n, int32_t target) {
  const auto lp = ReferenceLogSoftmax(base, n), lq = ReferenceLogSoftmax(q, n);
  ReferencePosition r;
  for (int64_t i = 0; i < n; ++i) r.kld += std::exp(lp[i]) * (lp[i] - lq[i]);
  r.nll_base = -lp[target];
  r.nll = -lq[target];
  r.p_diff = std::exp(lq[target]) - std::exp(lp[target]);
  r.same_top = std::max_element(base, base + n) - base == std::max_element(q, q + n) - q;
  return r;
}

// All n × n_vocab logits of a sequence run from position 0.
inline std::vector<float> AllLogits(Model& model, const std::vector<int32_t>& tokens, ThreadPool& pool) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  KvCache cache(model.config(), n);
  std::vector<float> logits(static_cast<size_t>(n * model.config().n_vocab));
  const Status st = model.llama().Forward(tokens.data(), n, 0, cache, logits.data(), true, pool);
  EXPECT_TRUE(st.ok()) << st.message();
  return logits;
}

}  // namespace leanlm::testing
