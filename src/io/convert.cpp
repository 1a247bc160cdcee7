#include "io/convert.h"

#include <algorithm>
#include <deque>
#include <tuple>
#include <vector>

#include "io/gguf.h"
#include "io/gguf_model.h"
#include "io/hf_dir.h"
#include "io/rope_permute.h"

namespace leanlm {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// llama.cpp's file order: embeddings and head first, then blocks by number.
std::tuple<int, int64_t, std::string> OrderKey(const std::string& name) {
  if (name == "token_embd.weight") return {0, 0, name};
  if (name == kRopeFreqsTensor) return {1, 0, name};
  if (name == "output_norm.weight") return {2, 0, name};
  if (name == "output.weight") return {3, 0, name};
  if (name.rfind("blk.", 0) == 0) {
    int64_t layer = 0;
    size_t i = 4;
    while (i < name.size() && name[i] >= '0' && name[i] <= '9' && layer < (int64_t{1} << 40)) {
      layer = layer * 10 + (name[i++] - '0');
    }
    return {4, layer, name};
  }
  return {5, 0, name};
}

// Heads of a Q or K tensor that needs its rows permuted, or 0.
int64_t RopeHeads(const std::string& name, const ModelConfig& c) {
  if (name.rfind("blk.", 0) != 0) return 0;
  for (const char* suffix : {".attn_q.weight", ".attn_q.bias"}) {
    if (EndsWith(name, suffix)) return c.n_head;
  }
  for (const char* suffix : {".attn_k.weight", ".attn_k.bias"}) {
    if (EndsWith(name, suffix)) return c.n_head_kv;
  }
  return 0;
}

// llama.cpp requires one token per embedding row; like convert_hf_to_gguf.py,
// pad a shorter list with unused "[PAD<i>]" tokens.
Result<VocabData> VocabForModel(const VocabData& vocab, int64_t n_vocab, const std::string& path) {
  const int64_t n = static_cast<int64_t>(vocab.tokens.size());
  if (n > n_vocab) {
    return Status::Error(path + ": the vocabulary has " + std::to_string(n) + " tokens but the model only " +
                         std::to_string(n_vocab) + " embedding rows");
  }
  VocabData out = vocab;
  if (n == n_vocab) return out;
  if (out.token_types.empty()) out.token_types.assign(static_cast<size_t>(n), static_cast<int32_t>(TokenType::kNormal));
  for (int64_t i = n; i < n_vocab; ++i) {
    out.tokens.push_back("[PAD" + std::to_string(i) + "]");
    out.token_types.push_back(static_cast<int32_t>(TokenType::kUnused));
    if (!out.scores.empty()) out.scores.push_back(0.0f);
  }
  return out;
}

}  // namespace

Status SaveGguf(const ModelSource& source, const std::string& path) {
  if (!source.vocab) {
    return Status::Error(source.path + " carries no tokenizer, which a GGUF needs: pass one (llama2.c "
                         "tokenizer.bin, tokenizer.json or GGUF)");
  }
  ModelConfig config = source.config;
  Result<bool> target_neox = RopeNeoxForArch(config.arch);
  if (!target_neox.ok()) return target_neox.status().WithContext(path);
  const bool permute = config.rope_neox != target_neox.value();
  if (permute && config.rotary_dim() != config.head_dim) {
    return Status::Error(path + ": cannot change the RoPE layout of a partially rotated head (" +
                         std::to_string(config.rotary_dim()) + " of " + std::to_string(config.head_dim) + ")");
  }
  config.rope_neox = target_neox.value();

  GgufWriter writer;
  ConfigToGguf(config, writer);
  LEANLM_ASSIGN_OR_RETURN(const VocabData vocab, VocabForModel(*source.vocab, config.n_vocab, path));
  VocabToGguf(vocab, writer);

  std::vector<std::pair<std::string, TensorView>> tensors(source.tensors.begin(), source.tensors.end());
  std::sort(tensors.begin(), tensors.end(),
            [](const auto& a, const auto& b) { return OrderKey(a.first) < OrderKey(b.first); });
  std::deque<std::vector<uint8_t>> copies;  // permuted Q/K rows; the views below point into them
  std::vector<float> rope_freqs;
  if (config.rope_scaling == RopeScaling::kLlama3 && !source.tensors.count(kRopeFreqsTensor)) {
    rope_freqs = Llama3RopeFactors(config);
    TensorView v;
    v.data = rope_freqs.data();
    v.n_dims = 1;
    v.ne = {static_cast<int64_t>(rope_freqs.size()), 1, 1, 1};
    LEANLM_RETURN_IF_ERROR(writer.AddTensor(kRopeFreqsTensor, v).WithContext(path));
  }
  for (const auto& [name, view] : tensors) {
    TensorView v = view;
    if (const int64_t heads = permute ? RopeHeads(name, config) : 0; heads > 0) {
      copies.emplace_back(view.bytes());
      const RopeLayout to = config.rope_neox ? RopeLayout::kHalves : RopeLayout::kInterleaved;
      LEANLM_RETURN_IF_ERROR(
          PermuteRopeRows(view, heads, to, copies.back().data()).WithContext(path + ": tensor '" + name + "'"));
      v.data = copies.back().data();
    }
    LEANLM_RETURN_IF_ERROR(writer.AddTensor(name, v).WithContext(path));
  }
  return writer.Write(path);
}

Status ConvertModel(const std::string& in, const std::string& out, const LoadOptions& options) {
  LEANLM_ASSIGN_OR_RETURN(ModelSource source, LoadModelSource(in, options));
  if (EndsWith(out, ".gguf")) return SaveGguf(source, out);
  return SaveHfDir(source, out);
}

}  // namespace leanlm
