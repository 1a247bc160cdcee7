// Rotary position embedding (RoPE). Pair i of a head (i < rotary_dim / 2)
// turns by the angle pos * inv_freq[i]. The layout says which two elements
// form pair i: adjacent (x[2i], x[2i+1]) — Meta, llama2.c, llama.cpp's normal
// mode — or halves (x[i], x[i + rotary_dim/2]) — HF's rotate_half, llama.cpp's
// NEOX mode. Elements from rotary_dim on pass through unchanged.
#pragma once

#include <cstdint>
#include <vector>

#include "base/thread_pool.h"
#include "model/config.h"

namespace leanlm {

// inv_freq[i] = rope_theta^(-2i / rotary_dim) for i < rotary_dim / 2, then
// scaled as the config says (linear: divided by rope_factor; llama3: HF's
// _compute_llama3_parameters) and divided by freq_factors[i] when given
// (llama.cpp's rope_freqs tensor, (rotary_dim / 2)).
std::vector<double> RopeInvFreq(const ModelConfig& config, const float* freq_factors);

// cs: (n, 2, rotary_dim / 2) — for position pos0 + t, the cosines then the
// sines of the angles (pos0 + t) * inv_freq[i], computed in double.
void RopeCosSin(float* cs, const std::vector<double>& inv_freq, int64_t pos0, int64_t n);

// x: (n, n_heads, head_dim), rotated in place by the angles of cs
// (n, 2, rotary_dim / 2). Linear in x with no saved state: a backward rotates
// the gradient by the opposite angles.
void RopeForward(float* x, const float* cs, int64_t n, int64_t n_heads, int64_t head_dim, int64_t rotary_dim,
                 bool neox, ThreadPool& pool);

}  // namespace leanlm
