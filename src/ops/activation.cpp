#include "ops/activation.h"

#include "ops/parallel.h"
#include "ops/vec.h"

namespace leanlm {
namespace {

inline float Silu(float x) { return x / (1.0f + vec::Exp(-x)); }

// 0.5 x (1 + tanh(u)) with u = sqrt(2/pi) (x + 0.044715 x³), and
// 0.5 (1 + tanh(u)) = 1 / (1 + exp(-2u)).
inline float GeluTanh(float x) {
  const float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
  return x / (1.0f + vec::Exp(-2.0f * u));
}

// Each element is read before it is written, so out == gate is fine; the
// 8-wide blocks go through a local array so the loop stays vectorizable.
template <float (*Act)(float)>
[[gnu::always_inline]] inline void Gated(float* out, const float* gate, const float* up, int64_t begin, int64_t end) {
  int64_t i = begin;
  for (; i + vec::kBlock <= end; i += vec::kBlock) {
    float y[vec::kBlock];
    for (int64_t j = 0; j < vec::kBlock; ++j) y[j] = Act(gate[i + j]) * up[i + j];
    for (int64_t j = 0; j < vec::kBlock; ++j) out[i + j] = y[j];
  }
  for (; i < end; ++i) out[i] = Act(gate[i]) * up[i];
}

template <float (*Act)(float)>
LEANLM_TARGET_AVX2 void GatedAvx2(float* out, const float* gate, const float* up, int64_t begin, int64_t end) {
  Gated<Act>(out, gate, up, begin, end);
}
template <float (*Act)(float)>
void GatedBase(float* out, const float* gate, const float* up, int64_t begin, int64_t end) {
  Gated<Act>(out, gate, up, begin, end);
}

}  // namespace

void GatedActivationForward(float* out, const float* gate, const float* up, int64_t count, Activation act,
                            ThreadPool& pool) {
  // ~10 ns per element: worth threads beyond a few thousand elements.
  const bool avx2 = vec::UseAvx2();
  const auto gated = act == Activation::kSilu ? (avx2 ? GatedAvx2<Silu> : GatedBase<Silu>)
                                              : (avx2 ? GatedAvx2<GeluTanh> : GatedBase<GeluTanh>);
  ParallelFor(pool, count, 4096, [&](int64_t begin, int64_t end) { gated(out, gate, up, begin, end); });
}

}  // namespace leanlm
