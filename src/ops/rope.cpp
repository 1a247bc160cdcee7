#include "ops/rope.h"

#include <cmath>
#include <numbers>

#include "ops/parallel.h"
#include "ops/vec.h"

namespace leanlm {

std::vector<double> RopeInvFreq(const ModelConfig& config, const float* freq_factors) {
  const int64_t rot = config.rotary_dim(), half = rot / 2;
  std::vector<double> inv_freq(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    double f = std::pow(static_cast<double>(config.rope_theta), -2.0 * static_cast<double>(i) / static_cast<double>(rot));
    const double factor = config.rope_factor;
    if (config.rope_scaling == RopeScaling::kLinear) {
      f /= factor;
    } else if (config.rope_scaling == RopeScaling::kLlama3) {
      // Long wavelengths (low frequencies) are slowed by the factor, short ones
      // kept, and the band between interpolates smoothly (Llama 3.1).
      const double orig_ctx = static_cast<double>(config.rope_orig_ctx);
      const double low = config.rope_low_freq_factor, high = config.rope_high_freq_factor;
      const double wavelen = 2 * std::numbers::pi / f;
      if (wavelen > orig_ctx / low) {
        f /= factor;
      } else if (wavelen >= orig_ctx / high) {
        const double smooth = (orig_ctx / wavelen - low) / (high - low);
        f = (1 - smooth) * f / factor + smooth * f;
      }
    }
    if (freq_factors != nullptr) f /= freq_factors[i];
    inv_freq[static_cast<size_t>(i)] = f;
  }
  return inv_freq;
}

void RopeCosSin(float* cs, const std::vector<double>& inv_freq, int64_t pos0, int64_t n) {
  const int64_t half = static_cast<int64_t>(inv_freq.size());
  for (int64_t t = 0; t < n; ++t) {
    float* c = cs + t * 2 * half;
    float* s = c + half;
    const double pos = static_cast<double>(pos0 + t);
    for (int64_t i = 0; i < half; ++i) {
      const double angle = pos * inv_freq[static_cast<size_t>(i)];
      c[i] = static_cast<float>(std::cos(angle));
      s[i] = static_cast<float>(std::sin(angle));
    }
  }
}

namespace {

// (a, b) <- (a cos - b sin, a sin + b cos) for the pairs of one head.
[[gnu::always_inline]] inline void RotateHalves(float* __restrict a, float* __restrict b, const float* __restrict c,
                                                const float* __restrict s, int64_t half) {
  int64_t i = 0;
  for (; i + vec::kBlock <= half; i += vec::kBlock) {
    for (int64_t j = 0; j < vec::kBlock; ++j) {
      const float a0 = a[i + j], b0 = b[i + j];
      a[i + j] = a0 * c[i + j] - b0 * s[i + j];
      b[i + j] = a0 * s[i + j] + b0 * c[i + j];
    }
  }
  for (; i < half; ++i) {
    const float a0 = a[i], b0 = b[i];
    a[i] = a0 * c[i] - b0 * s[i];
    b[i] = a0 * s[i] + b0 * c[i];
  }
}

void RotateAdjacent(float* __restrict x, const float* __restrict c, const float* __restrict s, int64_t half) {
  for (int64_t i = 0; i < half; ++i) {
    const float a0 = x[2 * i], b0 = x[2 * i + 1];
    x[2 * i] = a0 * c[i] - b0 * s[i];
    x[2 * i + 1] = a0 * s[i] + b0 * c[i];
  }
}

LEANLM_TARGET_AVX2 void RotateHalvesAvx2(float* a, float* b, const float* c, const float* s, int64_t half) {
  RotateHalves(a, b, c, s, half);
}
void RotateHalvesBase(float* a, float* b, const float* c, const float* s, int64_t half) {
  RotateHalves(a, b, c, s, half);
}

}  // namespace

void RopeForward(float* x, const float* cs, int64_t n, int64_t n_heads, int64_t head_dim, int64_t rotary_dim,
                 bool neox, ThreadPool& pool) {
  const int64_t half = rotary_dim / 2;
  const int64_t grain = std::max<int64_t>(1, 16384 / (n_heads * head_dim));
  const auto rotate_halves = vec::UseAvx2() ? RotateHalvesAvx2 : RotateHalvesBase;
  ParallelFor(pool, n, grain, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const float* c = cs + t * 2 * half;
      const float* s = c + half;
      for (int64_t h = 0; h < n_heads; ++h) {
        float* xh = x + (t * n_heads + h) * head_dim;
        if (neox) {
          rotate_halves(xh, xh + half, c, s, half);
        } else {
          RotateAdjacent(xh, c, s, half);
        }
      }
    }
  });
}

}  // namespace leanlm
