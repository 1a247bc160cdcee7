#include "ops/quantize_activations.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/status.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace leanlm {
namespace {

constexpr size_t Align64(size_t bytes) { return (bytes + 63) / 64 * 64; }

// Round to nearest, ties to even (the SSE2 conversion's default mode, which
// std::nearbyint also uses), so both builds give the same quants.
void QuantizeBlock(const float* x, float id, int8_t* q) {
#if defined(__SSE2__)
  const __m128 s = _mm_set1_ps(id);
  for (int j = 0; j < kActBlock; j += 16) {
    const __m128i a = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(x + j), s));
    const __m128i b = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(x + j + 4), s));
    const __m128i c = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(x + j + 8), s));
    const __m128i d = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(x + j + 12), s));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + j), _mm_packs_epi16(_mm_packs_epi32(a, b), _mm_packs_epi32(c, d)));
  }
#else
  for (int j = 0; j < kActBlock; ++j) q[j] = static_cast<int8_t>(std::nearbyint(x[j] * id));
#endif
}

// The interleaved copy of one row (see the header) for its whole units.
void Interleave(const int8_t* q, const int32_t* nls, const float* dl, int64_t k, int8_t* iq, int32_t* inls,
                float* idl) {
  for (int64_t u = 0; u < k / 128; ++u) {
    for (int b = 0; b < 4; ++b) {
      std::memcpy(iq + 128 * u + 16 * b, q + 128 * u + 32 * b, 16);
      std::memcpy(iq + 128 * u + 64 + 16 * b, q + 128 * u + 32 * b + 16, 16);
      for (int l = 0; l < 4; ++l) {
        const int64_t lane = 32 * u + 8 * b + l;  // natural lanes l and l + 4 of block 4u + b
        inls[16 * u + 4 * b + l] = nls[lane] + nls[lane + 4];
        idl[16 * u + 4 * b + l] = dl[lane];
      }
    }
  }
}

}  // namespace

size_t QuantizedActsBytes(int64_t n, int64_t k) {
  const auto lanes = static_cast<size_t>(n * (k / kActLane));
  return 2 * Align64(static_cast<size_t>(n * k)) + 3 * Align64(lanes * 4) +
         2 * Align64(static_cast<size_t>(n * (k / kActBlock)) * 4) + 2 * Align64(static_cast<size_t>(n * (k / 8)) * 4) +
         Align64(static_cast<size_t>(n * (k / 16)) * 4);
}

QuantizedActs QuantizedActsIn(void* buffer, int64_t n, int64_t k, int nls_shift, bool interleaved) {
  LEANLM_CHECK(k % kActBlock == 0);
  auto* p = static_cast<uint8_t*>(buffer);
  const auto lanes = static_cast<size_t>(n * (k / kActLane));
  QuantizedActs q;
  q.n = n;
  q.k = k;
  q.qs = reinterpret_cast<int8_t*>(p);
  p += Align64(static_cast<size_t>(n * k));
  q.dl = reinterpret_cast<float*>(p);
  p += Align64(lanes * 4);
  q.nls = reinterpret_cast<int32_t*>(p);
  p += Align64(lanes * 4);
  q.sl = reinterpret_cast<float*>(p);
  p += Align64(lanes * 4);
  q.sb = reinterpret_cast<float*>(p);
  p += Align64(static_cast<size_t>(n * (k / kActBlock)) * 4);
  q.db = reinterpret_cast<float*>(p);
  p += Align64(static_cast<size_t>(n * (k / kActBlock)) * 4);
  q.sg = reinterpret_cast<float*>(p);
  p += Align64(static_cast<size_t>(n * (k / 16)) * 4);
  q.nls_shift = nls_shift;
  q.interleaved = interleaved;
  q.iq = reinterpret_cast<int8_t*>(p);
  p += Align64(static_cast<size_t>(n * k));
  q.inls = reinterpret_cast<int32_t*>(p);
  p += Align64(static_cast<size_t>(n * (k / 8)) * 4);
  q.idl = reinterpret_cast<float*>(p);
  return q;
}

void QuantizeActivationRows(const float* x, int64_t i0, int64_t i1, const QuantizedActs& q) {
  const int64_t k = q.k;
  constexpr int kLanes = kActBlock / kActLane;
  for (int64_t i = i0; i < i1; ++i) {
    const float* xi = x + i * k;
    int8_t* qi = q.qs + i * k;
    float* dl = q.dl + i * (k / kActLane);
    int32_t* nls = q.nls + i * (k / kActLane);
    float* sl = q.sl + i * (k / kActLane);
    float* sb = q.sb + i * (k / kActBlock);
    float* db = q.db + i * (k / kActBlock);
    float* sg = q.sg + i * (k / 16);
    for (int64_t b = 0; b < k / kActBlock; ++b) {
      const float* xb = xi + b * kActBlock;
      float amax = 0.0f;
      for (int j = 0; j < kActBlock; ++j) amax = std::max(amax, std::fabs(xb[j]));
      const float d = amax / 127.0f;
      const float id = d > 0.0f ? 1.0f / d : 0.0f;
      int8_t* qb = qi + b * kActBlock;
      QuantizeBlock(xb, id, qb);
      int block_sum = 0, first_half = 0;
      for (int l = 0; l < kLanes; ++l) {
        const int sum = qb[4 * l] + qb[4 * l + 1] + qb[4 * l + 2] + qb[4 * l + 3];
        block_sum += sum;
        if (l == kLanes / 2 - 1) first_half = block_sum;
        dl[b * kLanes + l] = d;
        nls[b * kLanes + l] = -sum * (1 << q.nls_shift);
        sl[b * kLanes + l] = d * static_cast<float>(sum);
      }
      sb[b] = d * static_cast<float>(block_sum);
      sg[2 * b] = d * static_cast<float>(first_half);
      sg[2 * b + 1] = d * static_cast<float>(block_sum - first_half);
      db[b] = d;
    }
    if (q.interleaved) Interleave(qi, nls, dl, k, q.iq + i * k, q.inls + i * (k / 8), q.idl + i * (k / 8));
  }
}

void QuantizeActivations(const float* x, const QuantizedActs& q, ThreadPool& pool) {
  if (q.n <= 2 || pool.size() == 1) {
    QuantizeActivationRows(x, 0, q.n, q);
    return;
  }
  pool.ParallelFor(q.n, 2, [&](int64_t i0, int64_t i1) { QuantizeActivationRows(x, i0, i1, q); });
}

}  // namespace leanlm
