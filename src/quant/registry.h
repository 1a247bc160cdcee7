// Adds the block-quantized formats to the tensor type registry. Called once
// by the registry's constructor in base/dtype.cpp (explicitly, because the
// library is static and the linker would drop a self-registering object).
#pragma once

#include <span>

#include "base/dtype.h"

namespace leanlm {

// Fills rows[type_id] for every block format leanlm implements (ggml's ids
// and names: "q4_0", "q4_K", "iq4_nl", "tq1_0", ...). rows has kMaxTypeId entries.
void RegisterBlockFormats(std::span<TypeTraits> rows);

}  // namespace leanlm
