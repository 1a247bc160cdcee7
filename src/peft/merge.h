// Merging LoRA/DoRA adapters into a model's weights, in F32, with the same
// arithmetic the unmerged forward applies (adapter_set.h), adapter by
// adapter in order:
//   LoRA: W ← W + s · B A
//   DoRA: W ← f ⊙_row (W + s · B A), f = m / ‖W_base + s · B A‖_row
// Each merged weight is then stored in `out_type`, or in its own type when
// none is given (quantized bases are re-quantized by the type's reference
// quantizer). Prompt and prefix adapters have no merged form (an error).
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "base/status.h"
#include "model/config.h"
#include "model/weights.h"
#include "peft/adapter.h"

namespace leanlm {

// Returns `tensors` with every adapted weight replaced by a view of its
// merged copy; the copies' storage is appended to `keep_alive`.
Result<TensorMap> MergeAdapters(const ModelConfig& config, const TensorMap& tensors,
                                const std::vector<const Adapter*>& adapters, std::optional<DType> out_type,
                                std::vector<std::shared_ptr<const void>>& keep_alive);

}  // namespace leanlm
