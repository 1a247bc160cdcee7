#include "train/peft_methods_base.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstring>
#include <unordered_map>
#include <vector>

#include "quant/double_quant.h"
#include "quant/formats/nf4.h"
#include "quant/registry.h"

namespace leanlm {

struct NamePattern::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

Result<NamePattern> NamePattern::Compile(const std::string& pattern, const std::string& what) {
  auto code = std::make_shared<Code>();
  int error = 0;
  PCRE2_SIZE offset = 0;
  code->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF, &error,
                             &offset, nullptr);
  if (code->code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    return Status::Error(what + " '" + pattern + "': the regular expression does not compile: " +
                         reinterpret_cast<const char*>(message) + " at offset " + std::to_string(offset));
  }
  NamePattern p;
  p.code_ = std::move(code);
  p.pattern_ = pattern;
  p.what_ = what;
  return p;
}

Result<bool> NamePattern::Find(const std::string& name) const {
  constexpr uint32_t kMatchLimit = 1000000;
  std::unique_ptr<pcre2_match_context, void (*)(pcre2_match_context*)> context(pcre2_match_context_create(nullptr),
                                                                               pcre2_match_context_free);
  std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> match(
      pcre2_match_data_create_from_pattern(code_->code, nullptr), pcre2_match_data_free);
  if (!context || !match) return Status::Error("out of memory matching " + what_ + " '" + pattern_ + "'");
  pcre2_set_match_limit(context.get(), kMatchLimit);
  const int rc = pcre2_match(code_->code, reinterpret_cast<PCRE2_SPTR>(name.data()), name.size(), 0, 0, match.get(),
                             context.get());
  if (rc >= 0) return true;
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  PCRE2_UCHAR message[256];
  pcre2_get_error_message(rc, message, sizeof(message));
  return Status::Error(what_ + " '" + pattern_ + "' on tensor '" + name + "': " +
                       reinterpret_cast<const char*>(message));
}

namespace {

// A weight as F32, row by row.
std::vector<float> ToF32(const TensorView& v) {
  std::vector<float> out(static_cast<size_t>(v.elements()));
  const RowToFloatFn to_float = GetTypeTraits(v.type).to_float;
  for (int64_t r = 0; r < v.rows(); ++r) to_float(v.row(r), out.data() + r * v.cols(), v.cols());
  return out;
}

// Stores bytes in the model and returns them.
const uint8_t* Own(TrainableModel& model, std::vector<uint8_t> bytes) {
  model.owned.push_back(std::move(bytes));
  return model.owned.back().data();
}

}  // namespace

void ConvertVectorsToF32(TrainableModel& model) {
  auto convert = [&model](TensorView& v) {
    if (!v.valid() || v.type == DType::kF32) return;
    const std::vector<float> f = ToF32(v);
    std::vector<uint8_t> bytes(f.size() * sizeof(float));
    std::memcpy(bytes.data(), f.data(), bytes.size());
    v.data = Own(model, std::move(bytes));
    v.type = DType::kF32;
  };
  ModelWeights& w = model.weights;
  convert(w.output_norm);
  convert(w.rope_freqs);
  for (LayerWeights& L : w.layers) {
    for (TensorView* v : {&L.attn_norm, &L.ffn_norm, &L.bq, &L.bk, &L.bv}) convert(*v);
  }
}

Status MakeWeightsTrainable(TrainableModel& model, const NamePattern* pattern) {
  std::unordered_map<const void*, TrainTensor*> by_source;  // original data -> its master copy
  Status status = ForEachTensor(model.config, model.weights, [&](const WeightSpec& spec, TensorView& v) -> Status {
    if (!v.valid() || spec.name == "rope_freqs.weight") return Status::Ok();
    if (const auto it = by_source.find(v.data); it != by_source.end()) {  // the tied head
      v = it->second->view();
      return Status::Ok();
    }
    if (pattern != nullptr) {
      Result<bool> found = pattern->Find(spec.name);
      if (!found.ok()) return found.status();
      if (!*found) return Status::Ok();
    }
    TrainTensor* t = model.AddTensor(spec.name, v.ne, v.n_dims, v.n_dims >= 2);
    t->value = ToF32(v);
    by_source[v.data] = t;
    v = t->view();
    model.weight_grads[v.data] = t;
    return Status::Ok();
  });
  LEANLM_RETURN_IF_ERROR(status);
  if (by_source.empty()) return Status::Error("full fine-tuning: the pattern selects no tensor of the model");
  return Status::Ok();
}

namespace {

// The NF4 bytes of v (F32/F16/BF16), rows zero-padded to `cols` (a multiple
// of 64) when longer than v's; absmax values through the nested 8-bit code
// when double_quant.
std::vector<uint8_t> ToNf4(const TensorView& v, int64_t cols, bool double_quant) {
  const std::vector<float> f = ToF32(v);
  const int64_t rows = v.rows(), per_row = cols / quant::kQKNf4, blocks = rows * per_row;
  std::vector<uint8_t> q(static_cast<size_t>(blocks) * sizeof(quant::BlockNf4));
  std::vector<float> row(static_cast<size_t>(cols), 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    std::copy(f.begin() + r * v.cols(), f.begin() + (r + 1) * v.cols(), row.begin());
    quant::QuantizeRowNf4(row.data(), q.data() + r * per_row * sizeof(quant::BlockNf4), cols);
  }
  if (double_quant) {
    // The values QLoRA computes with: each absmax through the 8-bit nested
    // code (stored here as the resulting fp32).
    auto* blk = reinterpret_cast<quant::BlockNf4*>(q.data());
    std::vector<float> absmax(static_cast<size_t>(blocks));
    for (int64_t b = 0; b < blocks; ++b) absmax[static_cast<size_t>(b)] = blk[b].absmax;
    const std::array<float, 256> map = quant::DynamicMap8();
    const quant::NestedAbsmax nested = quant::QuantizeNestedAbsmax(absmax, map);
    LEANLM_CHECK(quant::DequantizeNestedAbsmax(nested, map, absmax).ok());
    for (int64_t b = 0; b < blocks; ++b) blk[b].absmax = absmax[static_cast<size_t>(b)];
  }
  return q;
}

bool IsPlainFloat(DType t) { return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16; }

}  // namespace

int64_t QuantizeBaseNf4(TrainableModel& model, bool double_quant, bool embeddings) {
  auto convert = [&](TensorView& v, bool may_pad) {
    if (!IsPlainFloat(v.type) || model.GradOf(v) != nullptr) return;
    const int64_t cols = (v.cols() + quant::kQKNf4 - 1) / quant::kQKNf4 * quant::kQKNf4;
    if (cols != v.cols() && !may_pad) return;
    v.data = Own(model, ToNf4(v, cols, double_quant));
    v.type = kNF4;
    v.ne[0] = cols;
  };
  int64_t bytes = 0;
  for (LayerWeights& L : model.weights.layers) {
    for (TensorView* v : {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down}) {
      convert(*v, true);
      bytes += static_cast<int64_t>(v->bytes());
    }
  }
  if (embeddings) {  // embedding rows cannot be padded: the lookup returns whole rows
    ModelWeights& w = model.weights;
    const bool tied = w.output.data == w.token_embd.data;
    convert(w.token_embd, false);
    if (tied) {
      w.output = w.token_embd;
    } else {
      convert(w.output, false);
    }
  }
  return bytes;
}

}  // namespace leanlm
