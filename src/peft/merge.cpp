#include "peft/merge.h"

#include <cmath>
#include <map>

#include "peft/adapter_shapes.h"

namespace leanlm {
namespace {

struct Pending {
  const LoraTarget* target;
  int64_t r;
  float scale;
};

}  // namespace

Result<TensorMap> MergeAdapters(const ModelConfig& c, const TensorMap& tensors,
                                const std::vector<const Adapter*>& adapters, std::optional<DType> out_type,
                                std::vector<std::shared_ptr<const void>>& keep_alive) {
  std::map<std::string, std::vector<Pending>> by_weight;  // in adapter order
  for (const Adapter* adapter : adapters) {
    const std::string source = adapter->name.empty() ? "adapter" : adapter->name;
    LEANLM_RETURN_IF_ERROR(ValidateAdapter(*adapter, c, source));
    const LoraAdapter* lora = adapter->lora();
    if (lora == nullptr) {
      return Status::Error(source + ": prompt and prefix tuning adapters cannot be merged into weights");
    }
    for (const LoraTarget& t : lora->targets) {
      by_weight[t.weight].push_back({&t, lora->r, lora->scale() * adapter->scale});
    }
  }
  if (out_type) {
    const TypeTraits* traits = FindTypeTraits(*out_type);
    if (traits == nullptr || traits->from_float == nullptr) {
      return Status::Error(std::string("type ") + TypeName(*out_type) + " cannot be written from F32");
    }
  }
  TensorMap out = tensors;
  for (const auto& [name, updates] : by_weight) {
    const auto it = tensors.find(name);
    if (it == tensors.end()) return Status::Error("the model has no tensor " + name + " to merge into");
    const TensorView& w = it->second;
    const int64_t in = updates.front().target->in, rows = updates.front().target->out;
    if (w.ne[0] != in || w.rows() != rows) {
      return Status::Error(name + " is " + w.shape_string() + " but the adapter expects ne {" + std::to_string(in) +
                           ", " + std::to_string(rows) + "}");
    }
    const TypeTraits* from = FindTypeTraits(w.type);
    if (from == nullptr || from->to_float == nullptr) return Status::Error(name + ": its type does not convert to F32");
    const DType type = out_type.value_or(w.type);
    const TypeTraits& to = GetTypeTraits(type);
    if (to.from_float == nullptr) {
      return Status::Error(name + ": type " + std::string(TypeName(type)) + " cannot be written from F32");
    }
    auto row_bytes = RowBytes(type, in);
    if (!row_bytes.ok()) return row_bytes.status().WithContext(name);
    auto storage = std::make_shared<std::vector<uint8_t>>(*row_bytes * static_cast<size_t>(rows));
    std::vector<float> base(static_cast<size_t>(in)), merged(static_cast<size_t>(in)), delta(static_cast<size_t>(in));
    for (int64_t o = 0; o < rows; ++o) {
      from->to_float(w.row(o), base.data(), in);
      merged = base;
      for (const Pending& p : updates) {
        const LoraTarget& t = *p.target;
        for (int64_t i = 0; i < in; ++i) {  // delta = s · (B A)[o, :]
          double acc = 0;
          for (int64_t k = 0; k < p.r; ++k) {
            acc += double{t.b[static_cast<size_t>(o * p.r + k)]} * t.a[static_cast<size_t>(k * in + i)];
          }
          delta[static_cast<size_t>(i)] = static_cast<float>(p.scale * acc);
        }
        if (t.magnitude.empty()) {
          for (int64_t i = 0; i < in; ++i) merged[static_cast<size_t>(i)] += delta[static_cast<size_t>(i)];
          continue;
        }
        double norm2 = 0;  // ‖W_base + s·B A‖ of this row
        for (int64_t i = 0; i < in; ++i) {
          const double v = double{base[static_cast<size_t>(i)]} + delta[static_cast<size_t>(i)];
          norm2 += v * v;
        }
        if (!(norm2 > 0)) return Status::Error(name + ": DoRA: row " + std::to_string(o) + " is zero");
        const float f = static_cast<float>(t.magnitude[static_cast<size_t>(o)] / std::sqrt(norm2));
        for (int64_t i = 0; i < in; ++i) {
          merged[static_cast<size_t>(i)] = f * (merged[static_cast<size_t>(i)] + delta[static_cast<size_t>(i)]);
        }
      }
      to.from_float(merged.data(), storage->data() + static_cast<size_t>(o) * *row_bytes, in);
    }
    TensorView v = w;
    v.type = type;
    v.data = storage->data();
    out[name] = v;
    keep_alive.push_back(std::move(storage));
  }
  return out;
}

}  // namespace leanlm
