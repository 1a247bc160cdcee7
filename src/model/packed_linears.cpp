#include "model/packed_linears.h"

#include <utility>

namespace leanlm {
namespace {

using PackedLayer = std::array<PackedWeight, kLinearSlots>;
using PackTarget = std::pair<const TensorView*, PackedWeight*>;

// Every packable weight with where its packed view goes.
std::vector<PackTarget> Packable(const ModelWeights& w, std::vector<PackedLayer>& layers, PackedWeight& output) {
  std::vector<PackTarget> found;
  auto add = [&](const TensorView& v, PackedWeight& to) {
    if (CanPackWeight(v)) found.emplace_back(&v, &to);
  };
  layers.resize(w.layers.size());
  for (size_t l = 0; l < w.layers.size(); ++l) {
    const LayerWeights& L = w.layers[l];
    auto& P = layers[l];
    add(L.wq, P[static_cast<int>(LinearSlot::kQ)]);
    add(L.wk, P[static_cast<int>(LinearSlot::kK)]);
    add(L.wv, P[static_cast<int>(LinearSlot::kV)]);
    add(L.wo, P[static_cast<int>(LinearSlot::kO)]);
    add(L.ffn_gate, P[static_cast<int>(LinearSlot::kGate)]);
    add(L.ffn_up, P[static_cast<int>(LinearSlot::kUp)]);
    add(L.ffn_down, P[static_cast<int>(LinearSlot::kDown)]);
  }
  if (w.output.data != w.token_embd.data) add(w.output, output);
  return found;
}

}  // namespace

Result<std::unique_ptr<PackedLinears>> PackedLinears::Pack(const ModelWeights& w, ThreadPool& pool,
                                                           const SourceDone& done) {
  std::unique_ptr<PackedLinears> p(new PackedLinears());
  const auto found = Packable(w, p->layers_, p->output_);
  if (found.empty()) return std::unique_ptr<PackedLinears>();
  size_t total = 0;
  for (const auto& [view, to] : found) total += (view->bytes() + 63) / 64 * 64;
  auto buffer = HugeBuffer::Allocate(total);
  if (!buffer.ok()) {
    return Status::Error("packing the weights for decode: " + buffer.status().message() +
                         " (--no-pack runs from the mapped file instead)");
  }
  p->buffer_ = std::move(buffer).value();
  uint8_t* at = p->buffer_.data();
  for (const auto& [view, to] : found) {
    PackWeight(*view, at, pool);
    *to = PackedWeight{at, view->type, view->rows(), view->cols()};
    if (done) done(*view);
    at += (view->bytes() + 63) / 64 * 64;
  }
  return p;
}

}  // namespace leanlm
