// Gated activations of the feed-forward block: out = act(gate) * up, with
// act = SiLU (SwiGLU, LLaMA) or the tanh approximation of GELU (GeGLU, Gemma).
#pragma once

#include <cstdint>

#include "base/thread_pool.h"
#include "model/config.h"

namespace leanlm {

// out, gate, up: (count). out may be gate itself (inference); a backward
// needs gate and up, so training keeps them apart.
void GatedActivationForward(float* out, const float* gate, const float* up, int64_t count, Activation act,
                            ThreadPool& pool);

}  // namespace leanlm
