#include "runtime/init_model.h"

#include <cmath>
#include <memory>

#include "base/progress.h"
#include "base/thread_pool.h"
#include "io/gguf.h"
#include "io/gguf_model.h"

namespace leanlm {
namespace {

ModelConfig LlamaConfig(int64_t vocab, int64_t embd, int64_t layers, int64_t heads, int64_t kv_heads, int64_t ff,
                        int64_t ctx) {
  ModelConfig c;
  c.arch = "llama";
  c.n_vocab = vocab;
  c.n_embd = embd;
  c.n_layer = layers;
  c.n_head = heads;
  c.n_head_kv = kv_heads;
  c.n_ff = ff;
  c.head_dim = embd / heads;
  c.n_ctx_train = ctx;
  return c;
}

std::vector<ModelPreset> MakePresets() {
  std::vector<ModelPreset> p;
  p.push_back({"tiny", "test shapes: 2 layers, width 64, GQA 4/2 heads, vocab 512",
               LlamaConfig(512, 64, 2, 4, 2, 160, 256)});
  ModelPreset qwen{"tiny-qwen2", "test shapes with Q/K/V biases and NEOX RoPE (Qwen2-style)",
                   LlamaConfig(512, 64, 2, 4, 2, 160, 256)};
  qwen.config.arch = "qwen2";
  qwen.config.rope_neox = true;
  qwen.config.qkv_bias = true;
  qwen.config.rope_theta = 1000000.0f;
  qwen.config.norm_eps = 1e-6f;
  p.push_back(qwen);
  // Rows of 256 and 768 fit every block format (32-element blocks and the
  // 256-element K-quant super-blocks): each format's own error, no fallbacks.
  p.push_back({"blocks-256", "every row a multiple of 256: 4 layers, width 256, GQA 4/2 heads, n_ff 768, vocab 512",
               LlamaConfig(512, 256, 4, 4, 2, 768, 512)});
  p.push_back({"stories110m", "llama2.c stories110M shapes: 12 layers, width 768, vocab 32000",
               LlamaConfig(32000, 768, 12, 12, 12, 2048, 1024)});
  p.push_back({"tinyllama-1.1b", "TinyLlama-1.1B shapes: 22 layers, width 2048, GQA 32/4 heads",
               LlamaConfig(32000, 2048, 22, 32, 4, 5632, 2048)});
  p.push_back({"llama-7b", "LLaMA-2-7B shapes: 32 layers, width 4096, vocab 32000",
               LlamaConfig(32000, 4096, 32, 32, 32, 11008, 4096)});
  return p;
}

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// One owned tensor of the model being written.
struct OwnedTensor {
  std::string name;
  TensorView view;
  std::unique_ptr<uint8_t[]> bytes;
};

}  // namespace

const std::vector<ModelPreset>& ModelPresets() {
  static const std::vector<ModelPreset> presets = MakePresets();
  return presets;
}

Result<ModelPreset> FindModelPreset(const std::string& name) {
  std::string known;
  for (const auto& p : ModelPresets()) {
    if (p.name == name) return p;
    known += (known.empty() ? "" : ", ") + p.name;
  }
  return Status::Error("unknown preset '" + name + "' (known: " + known + ")");
}

VocabData SyntheticVocab(int64_t n_vocab) {
  VocabData v;
  v.model = "llama";
  auto add = [&](std::string piece, TokenType type) {
    v.tokens.push_back(std::move(piece));
    v.token_types.push_back(static_cast<int32_t>(type));
    v.scores.push_back(type == TokenType::kNormal ? -static_cast<float>(v.tokens.size()) : 0.0f);
  };
  add("<unk>", TokenType::kUnknown);
  add("<s>", TokenType::kControl);
  add("</s>", TokenType::kControl);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    add(buf, TokenType::kByte);
  }
  // Printable pieces: single characters, then "▁"-prefixed and plain letter
  // strings of growing length, until the vocabulary is full.
  const std::string space = "\xE2\x96\x81";
  std::vector<std::string> frontier;
  for (char c = 33; c < 127; ++c) frontier.emplace_back(1, c);
  std::vector<std::string> pieces = {space};
  pieces.insert(pieces.end(), frontier.begin(), frontier.end());
  for (size_t i = 0; i < pieces.size() && static_cast<int64_t>(v.tokens.size()) < n_vocab; ++i) {
    add(pieces[i], TokenType::kNormal);
  }
  const std::string letters = "etaoinshrdlucmfwypvbgkjqxz";
  std::vector<std::string> level(1, "");
  while (static_cast<int64_t>(v.tokens.size()) < n_vocab) {
    std::vector<std::string> next;
    for (const auto& prefix : level) {
      for (char c : letters) {
        next.push_back(prefix + c);
        if (next.back().size() > 1) add(next.back(), TokenType::kNormal);
        if (static_cast<int64_t>(v.tokens.size()) >= n_vocab) break;
        add(space + next.back(), TokenType::kNormal);
        if (static_cast<int64_t>(v.tokens.size()) >= n_vocab) break;
      }
      if (static_cast<int64_t>(v.tokens.size()) >= n_vocab) break;
    }
    level = std::move(next);
  }
  v.tokens.resize(static_cast<size_t>(n_vocab));
  v.token_types.resize(static_cast<size_t>(n_vocab));
  v.scores.resize(static_cast<size_t>(n_vocab));
  v.bos_id = 1;
  v.eos_id = 2;
  v.unk_id = 0;
  return v;
}

Status WriteRandomModel(const ModelConfig& config, const InitOptions& options, const std::string& path) {
  LEANLM_RETURN_IF_ERROR(config.Validate("preset"));
  const TypeTraits* traits = FindTypeTraits(options.type);
  if (!traits || !traits->from_float) return Status::Error("cannot initialize weights of this type");

  struct Spec {
    std::string name;
    int64_t cols, rows;
    bool is_norm;
  };
  std::vector<Spec> specs = {{"token_embd.weight", config.n_embd, config.n_vocab, false}};
  for (int64_t l = 0; l < config.n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    specs.push_back({b + "attn_norm.weight", config.n_embd, 1, true});
    specs.push_back({b + "attn_q.weight", config.n_embd, config.q_dim(), false});
    specs.push_back({b + "attn_k.weight", config.n_embd, config.kv_dim(), false});
    specs.push_back({b + "attn_v.weight", config.n_embd, config.kv_dim(), false});
    if (config.qkv_bias) {
      specs.push_back({b + "attn_q.bias", config.q_dim(), 1, false});
      specs.push_back({b + "attn_k.bias", config.kv_dim(), 1, false});
      specs.push_back({b + "attn_v.bias", config.kv_dim(), 1, false});
    }
    specs.push_back({b + "attn_output.weight", config.q_dim(), config.n_embd, false});
    specs.push_back({b + "ffn_norm.weight", config.n_embd, 1, true});
    specs.push_back({b + "ffn_gate.weight", config.n_embd, config.n_ff, false});
    specs.push_back({b + "ffn_up.weight", config.n_embd, config.n_ff, false});
    specs.push_back({b + "ffn_down.weight", config.n_ff, config.n_embd, false});
  }
  specs.push_back({"output_norm.weight", config.n_embd, 1, true});
  if (!config.tied_embeddings) specs.push_back({"output.weight", config.n_embd, config.n_vocab, false});

  GgufWriter writer;
  writer.Set("general.name", GgufValue::Str("leanlm random init"));
  ConfigToGguf(config, writer);
  VocabToGguf(SyntheticVocab(config.n_vocab), writer);

  ThreadPool pool;
  const float amplitude = options.init_std * std::sqrt(3.0f);  // uniform with the requested std
  std::vector<OwnedTensor> tensors;
  int64_t total = 0, done = 0;
  for (const auto& s : specs) total += s.cols * s.rows;
  Progress progress("init", total, "weights");
  for (size_t t = 0; t < specs.size(); ++t) {
    const Spec& s = specs[t];
    // Biases and norms are small 1-D tensors: F32, as llama.cpp keeps them.
    const bool is_vector = s.rows == 1;
    const DType type = is_vector ? DType::kF32 : options.type;
    const TypeTraits& tt = GetTypeTraits(type);
    LEANLM_ASSIGN_OR_RETURN(const size_t row_bytes, RowBytes(type, s.cols));
    OwnedTensor owned{s.name, {}, std::make_unique<uint8_t[]>(row_bytes * s.rows)};
    const uint64_t tensor_seed = SplitMix64(options.seed ^ SplitMix64(t + 1));
    pool.ParallelFor(s.rows, 1, [&](int64_t begin, int64_t end) {
      std::vector<float> row(s.cols);
      for (int64_t r = begin; r < end; ++r) {
        for (int64_t c = 0; c < s.cols; ++c) {
          if (s.is_norm) {
            row[c] = 1.0f;
          } else {
            const uint64_t bits = SplitMix64(tensor_seed + static_cast<uint64_t>(r * s.cols + c));
            row[c] = amplitude * (static_cast<float>(bits >> 40) * (2.0f / 16777216.0f) - 1.0f);
          }
        }
        tt.from_float(row.data(), owned.bytes.get() + r * row_bytes, s.cols);
      }
    });
    owned.view.data = owned.bytes.get();
    owned.view.type = type;
    owned.view.n_dims = is_vector ? 1 : 2;
    owned.view.ne = {s.cols, is_vector ? 1 : s.rows, 1, 1};
    LEANLM_RETURN_IF_ERROR(writer.AddTensor(owned.name, owned.view));
    tensors.push_back(std::move(owned));
    done += s.cols * s.rows;
    progress.Update(done);
  }
  progress.Finish();
  return writer.Write(path);
}

}  // namespace leanlm
