// Helpers shared by the reference (scalar) block quantizers. They reproduce
// the exact arithmetic of ggml's reference code (ggml-quants.c), so that the
// same F32 input gives the same bytes as llama-quantize:
//  - every float expression keeps ggml's operand order and float precision,
//    and a*b+c is never fused into an FMA (the pragmas below; ggml-base is
//    built for baseline x86-64, which has no FMA), so every .cpp doing
//    quantizer arithmetic includes this header;
//  - MIN/MAX follow C's `a < b ? a : b` (not std::min), which matters for NaN;
//  - C's float-to-integer truncation is undefined out of range, so TruncToInt
//    maps out-of-range and NaN to 0 instead of invoking undefined behaviour.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace leanlm::quant {

inline constexpr int kQK_K = 256;       // elements per K-quant super-block
inline constexpr int kKScaleSize = 12;  // bytes of packed 6-bit scales/mins (Q4_K, Q5_K)

inline int MinC(int a, int b) { return a < b ? a : b; }
inline int MaxC(int a, int b) { return a > b ? a : b; }
inline float MaxC(float a, float b) { return a > b ? a : b; }

// ggml's nearest_int: adds 1.5 * 2^23 so the FPU rounds to nearest even into
// the low mantissa bits. Exact for |x| <= 2^22 - 1; otherwise a deterministic
// (wrong) value, as in ggml.
inline int NearestInt(float x) {
  const float v = x + 12582912.f;
  int32_t i;
  std::memcpy(&i, &v, sizeof(i));
  return (i & 0x007fffff) - 0x00400000;
}

// C's (int)x for values that fit; 0 for NaN and out-of-range values.
inline int TruncToInt(float x) { return (x >= -2147483648.f && x < 2147483648.f) ? static_cast<int>(x) : 0; }

// C's roundf/lroundf (half away from zero) for values that fit an int; 0 otherwise.
inline int RoundHalfAway(float x) { return TruncToInt(std::roundf(x)); }

}  // namespace leanlm::quant
