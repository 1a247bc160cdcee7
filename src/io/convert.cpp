#include "io/convert.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <tuple>

#include "io/gguf.h"
#include "io/gguf_model.h"
#include "io/hf_dir.h"

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

Result<std::vector<uint8_t>> PermuteRopeRows(const TensorView& w, int64_t n_head, bool to_pairs) {
  if (!w.valid() || w.n_dims > 2 || n_head < 1) {
    return Status::Error("RoPE permutation needs a 1-D or 2-D tensor and heads >= 1, got " + w.shape_string());
  }
  // A bias (1-D) has one element per row.
  const int64_t rows = w.n_dims == 1 ? w.ne[0] : w.ne[1];
  LEANLM_ASSIGN_OR_RETURN(const size_t row_bytes, RowBytes(w.type, w.n_dims == 1 ? 1 : w.ne[0]));
  if (rows % n_head != 0 || (rows / n_head) % 2 != 0) {
    return Status::Error("RoPE permutation: " + std::to_string(rows) + " rows are not " + std::to_string(n_head) +
                         " heads of an even size");
  }
  const int64_t head_dim = rows / n_head, half = head_dim / 2;
  std::vector<uint8_t> out(static_cast<size_t>(rows) * row_bytes);
  const auto* in = static_cast<const uint8_t*>(w.data);
  for (int64_t h = 0; h < n_head; ++h) {
    for (int64_t i = 0; i < half; ++i) {
      for (int64_t t = 0; t < 2; ++t) {
        const int64_t pairs_row = h * head_dim + 2 * i + t;   // llama.cpp / Meta layout
        const int64_t halves_row = h * head_dim + t * half + i;  // Hugging Face layout
        const int64_t src = to_pairs ? halves_row : pairs_row;
        const int64_t dst = to_pairs ? pairs_row : halves_row;
        std::memcpy(out.data() + dst * row_bytes, in + src * row_bytes, row_bytes);
      }
    }
  }
  return out;
}

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
      Result<std::vector<uint8_t>> rows = PermuteRopeRows(view, heads, /*to_pairs=*/!config.rope_neox);
      if (!rows.ok()) return rows.status().WithContext(path + ": tensor '" + name + "'");
      copies.push_back(std::move(rows).value());
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
