#include "train/llama_train_model.h"

#include <algorithm>
#include <unordered_set>

namespace leanlm {

TensorView TrainTensor::view() const {
  TensorView v;
  v.data = value.data();
  v.type = DType::kF32;
  v.n_dims = n_dims;
  v.ne = ne;
  return v;
}

TrainTensor* TrainableModel::AddTensor(std::string name, std::array<int64_t, 4> ne, int n_dims, bool decay) {
  auto t = std::make_unique<TrainTensor>();
  t->name = std::move(name);
  t->ne = ne;
  t->n_dims = n_dims;
  t->decay = decay;
  t->value.assign(static_cast<size_t>(t->size()), 0.0f);
  t->grad.assign(static_cast<size_t>(t->size()), 0.0f);
  tensors.push_back(std::move(t));
  return tensors.back().get();
}

int64_t TrainableModel::n_trainable() const {
  int64_t total = 0;
  for (const auto& t : tensors) total += t->size();
  return total;
}

int64_t TrainableModel::n_total() const {
  // Base weights once each (a tied head shares token_embd's data), trainable
  // base tensors among them; then the trainable tensors that are not base weights.
  std::unordered_set<const void*> seen;
  int64_t total = 0;
  ModelWeights w = weights;
  (void)ForEachTensor(config, w, [&](const WeightSpec& spec, TensorView& v) {
    if (spec.name == "rope_freqs.weight") return Status::Ok();  // a constant table, not a parameter
    if (v.valid() && seen.insert(v.data).second) total += spec.ne[0] * spec.ne[1];  // not a padded row length
    return Status::Ok();
  });
  std::unordered_set<const TrainTensor*> base;
  for (const auto& [data, t] : weight_grads) base.insert(t);
  for (const auto& t : tensors) {
    if (base.count(t.get()) == 0) total += t->size();
  }
  return total;
}

std::vector<TrainParam> TrainableModel::Params() {
  std::vector<TrainParam> params;
  for (auto& t : tensors) {
    TrainParam p;
    p.name = t->name;
    p.value = t->value.data();
    p.grad = t->grad.data();
    p.n = t->size();
    p.no_weight_decay = !t->decay;
    p.ne.assign(t->ne.begin(), t->ne.begin() + t->n_dims);
    params.push_back(std::move(p));
  }
  return params;
}

void TrainableModel::ZeroGrads() {
  for (auto& t : tensors) std::fill(t->grad.begin(), t->grad.end(), 0.0f);
}

}  // namespace leanlm
