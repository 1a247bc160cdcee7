// llama2.c v0 ("legacy") checkpoints, as written by llama2.c's export.py:
//   int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
//   (vocab_size < 0: the classifier is stored separately at the end), then
//   float32 token_embedding[vocab][dim], rms_att[L][dim], wq[L][dim][dim],
//   wk[L][kv_dim][dim], wv[L][kv_dim][dim], wo[L][dim][dim], rms_ffn[L][dim],
//   w1[L][hidden][dim], w2[L][dim][hidden], w3[L][hidden][dim], rms_final[dim],
//   freq_cis_real[seq_len][head_size/2], freq_cis_imag[...], [wcls[vocab][dim]].
// PyTorch's [out][in] row-major matrices are ggml's ne {in, out}.
#include "io/llama2c.h"

#include <cstdlib>
#include <cstring>

namespace leanlm {
namespace {

constexpr size_t kHeaderBytes = 7 * sizeof(int32_t);
constexpr int32_t kVersionedMagic = 0x616b3432;  // "ak42": llama2.c's version 1/2 exports
constexpr int64_t kMaxDim = int64_t{1} << 20;

struct Header {
  int64_t dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len;
  bool shared_classifier;
  int64_t head_size() const { return dim / n_heads; }
  int64_t kv_dim() const { return head_size() * n_kv_heads; }
};

// Float count of every section, in file order; [i].second names it.
std::vector<std::pair<int64_t, const char*>> Sections(const Header& h) {
  const int64_t L = h.n_layers, d = h.dim, f = h.hidden, kv = h.kv_dim();
  std::vector<std::pair<int64_t, const char*>> s = {
      {h.vocab * d, "token_embd"}, {L * d, "attn_norm"},     {L * d * d, "attn_q"},   {L * kv * d, "attn_k"},
      {L * kv * d, "attn_v"},      {L * d * d, "attn_output"}, {L * d, "ffn_norm"},   {L * f * d, "ffn_gate"},
      {L * d * f, "ffn_down"},     {L * f * d, "ffn_up"},    {d, "output_norm"},
      {h.seq_len * h.head_size() / 2, "freq_cis_real"},      {h.seq_len * h.head_size() / 2, "freq_cis_imag"},
  };
  if (!h.shared_classifier) s.push_back({h.vocab * d, "output"});
  return s;
}

Result<Header> ParseHeader(const uint8_t* bytes, size_t n, uint64_t file_size, const std::string& path) {
  if (n < kHeaderBytes) {
    return Status::Error(path + ": at byte 0: file ends inside the llama2.c header (expected 28 bytes, found " +
                         std::to_string(n) + ")");
  }
  int32_t v[7];
  std::memcpy(v, bytes, sizeof(v));
  if (v[0] == kVersionedMagic) {
    int32_t version = 0;
    if (n >= 8) std::memcpy(&version, bytes + 4, 4);
    return Status::Error(path + ": llama2.c version " + std::to_string(version) +
                         " export; only version 0 (legacy float32) checkpoints are supported");
  }
  const char* names[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
  const int64_t limits[7] = {kMaxDim, kMaxDim, int64_t{1} << 12, int64_t{1} << 12, int64_t{1} << 12,
                             int64_t{1} << 24, int64_t{1} << 24};
  for (int i = 0; i < 7; ++i) {
    const int64_t x = i == 5 ? std::abs(static_cast<int64_t>(v[i])) : v[i];  // sign of vocab_size: sharing
    if (x < 1 || x > limits[i]) {
      return Status::Error(path + ": at byte " + std::to_string(4 * i) + ": llama2.c header field " + names[i] +
                           " is " + std::to_string(v[i]) + " (expected " + (i == 5 ? "+-" : "") + "1.." +
                           std::to_string(limits[i]) + ")");
    }
  }
  Header h{v[0], v[1], v[2], v[3], v[4], std::abs(static_cast<int64_t>(v[5])), v[6], v[5] > 0};
  if (h.dim % h.n_heads != 0 || h.head_size() % 2 != 0) {
    return Status::Error(path + ": llama2.c dim " + std::to_string(h.dim) + " is not n_heads " +
                         std::to_string(h.n_heads) + " times an even head size");
  }
  if (h.n_kv_heads > h.n_heads || h.n_heads % h.n_kv_heads != 0) {
    return Status::Error(path + ": llama2.c n_heads " + std::to_string(h.n_heads) + " is not a multiple of n_kv_heads " +
                         std::to_string(h.n_kv_heads));
  }
  // With every field bounded above, no product below overflows int64.
  int64_t floats = 0;
  for (const auto& s : Sections(h)) floats += s.first;
  const uint64_t expected = kHeaderBytes + static_cast<uint64_t>(floats) * sizeof(float);
  if (file_size != expected) {
    return Status::Error(path + ": llama2.c header (dim " + std::to_string(h.dim) + ", hidden_dim " +
                         std::to_string(h.hidden) + ", n_layers " + std::to_string(h.n_layers) + ", vocab_size " +
                         std::to_string(v[5]) + ", seq_len " + std::to_string(h.seq_len) + ") describes " +
                         std::to_string(expected) + " bytes but the file has " + std::to_string(file_size));
  }
  return h;
}

TensorView F32View(const float* data, std::initializer_list<int64_t> ne) {
  TensorView v;
  v.data = data;
  v.type = DType::kF32;
  v.n_dims = static_cast<int>(ne.size());
  int i = 0;
  for (int64_t x : ne) v.ne[i++] = x;
  return v;
}

}  // namespace

Status CheckLlama2cHeader(const uint8_t* header, size_t header_bytes, uint64_t file_size, const std::string& path) {
  return ParseHeader(header, header_bytes, file_size, path).status();
}

Result<ModelSource> LoadLlama2c(const std::string& path, const LoadOptions& options) {
  LEANLM_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> file, MappedFile::Open(path, options.mode));
  LEANLM_ASSIGN_OR_RETURN(Header h, ParseHeader(file->data(), file->size(), file->size(), path));

  ModelSource src;
  src.format = ModelFormat::kLlama2c;
  src.path = path;
  ModelConfig& c = src.config;
  c.arch = "llama";
  c.n_vocab = h.vocab;
  c.n_embd = h.dim;
  c.n_layer = h.n_layers;
  c.n_head = h.n_heads;
  c.n_head_kv = h.n_kv_heads;
  c.n_ff = h.hidden;
  c.head_dim = h.head_size();
  c.n_ctx_train = h.seq_len;
  c.norm_eps = 1e-5f;
  c.rope_theta = 10000.0f;
  c.rope_neox = false;  // llama2.c rotates adjacent pairs, like llama.cpp's llama
  c.tied_embeddings = h.shared_classifier;

  // Walk the sections in file order, handing out views.
  const float* p = reinterpret_cast<const float*>(file->data() + kHeaderBytes);
  const int64_t L = h.n_layers, d = h.dim, f = h.hidden, kv = h.kv_dim();
  auto per_layer = [&](const char* name, int64_t elems, std::initializer_list<int64_t> ne) {
    for (int64_t l = 0; l < L; ++l) {
      src.tensors["blk." + std::to_string(l) + "." + name + ".weight"] = F32View(p + l * elems, ne);
    }
    p += L * elems;
  };
  src.tensors["token_embd.weight"] = F32View(p, {d, h.vocab});  // (vocab, dim)
  p += h.vocab * d;
  per_layer("attn_norm", d, {d});              // (dim)
  per_layer("attn_q", d * d, {d, d});          // (dim out, dim in)
  per_layer("attn_k", kv * d, {d, kv});        // (kv_dim, dim)
  per_layer("attn_v", kv * d, {d, kv});        // (kv_dim, dim)
  per_layer("attn_output", d * d, {d, d});     // (dim, dim)
  per_layer("ffn_norm", d, {d});               // (dim)
  per_layer("ffn_gate", f * d, {d, f});        // w1 (hidden, dim)
  per_layer("ffn_down", d * f, {f, d});        // w2 (dim, hidden)
  per_layer("ffn_up", f * d, {d, f});          // w3 (hidden, dim)
  src.tensors["output_norm.weight"] = F32View(p, {d});
  p += d;
  p += h.seq_len * h.head_size();  // freq_cis_real + freq_cis_imag: RoPE is computed, not read
  if (!h.shared_classifier) src.tensors["output.weight"] = F32View(p, {d, h.vocab});
  src.keep_alive.push_back(std::move(file));
  return src;
}

}  // namespace leanlm
