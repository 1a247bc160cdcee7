// Portable kernels: the path for CPUs without AVX2, and the type-generic
// fallback (any type with to_float). Written as plain loops over short fixed
// arrays so the compiler can use baseline SSE2.
#include <algorithm>
#include <cstring>

#include "base/fp16.h"
#include "ops/matmul_kernels.h"

namespace leanlm {
namespace {

constexpr int64_t kChunk = 256;  // columns converted at a time; a multiple of every block size
constexpr int kScalarGemvRows = 4;

float BitsToFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint32_t FloatToBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// Branch-free IEEE half → float (exact for every finite value and infinity):
// normals are rebiased by one multiply, subnormals built as 0.5 + m·2⁻²⁴ and
// then 0.5 subtracted. Equal to Fp16ToFp32 but vectorizable.
inline float HalfToFloat(uint16_t h) {
  const uint32_t w = static_cast<uint32_t>(h) << 16;
  const uint32_t sign = w & 0x80000000u;
  const uint32_t two_w = w + w;
  const float normalized = BitsToFloat((two_w >> 4) + (0xe0u << 23)) * 0x1.0p-112f;
  const float subnormal = BitsToFloat((two_w >> 17) | (126u << 23)) - 0.5f;
  return BitsToFloat(sign | (two_w < (1u << 27) ? FloatToBits(subnormal) : FloatToBits(normalized)));
}

// Converts columns [j0, j0 + len) of one row to F32.
using ChunkToFloatFn = void (*)(const WeightRef& w, const uint8_t* row, int64_t j0, int64_t len, float* dst);

void F32Chunk(const WeightRef&, const uint8_t* row, int64_t j0, int64_t len, float* dst) {
  std::memcpy(dst, reinterpret_cast<const float*>(row) + j0, len * sizeof(float));
}
void F16Chunk(const WeightRef&, const uint8_t* row, int64_t j0, int64_t len, float* dst) {
  uint16_t h[kChunk];
  std::memcpy(h, row + j0 * 2, len * 2);
  for (int64_t j = 0; j < len; ++j) dst[j] = HalfToFloat(h[j]);
}
void Bf16Chunk(const WeightRef&, const uint8_t* row, int64_t j0, int64_t len, float* dst) {
  uint16_t h[kChunk];
  std::memcpy(h, row + j0 * 2, len * 2);
  for (int64_t j = 0; j < len; ++j) dst[j] = BitsToFloat(static_cast<uint32_t>(h[j]) << 16);
}
void GenericChunk(const WeightRef& w, const uint8_t* row, int64_t j0, int64_t len, float* dst) {
  const TypeTraits& t = GetTypeTraits(w.type);
  const int64_t offset = j0 / t.block_size * static_cast<int64_t>(t.type_size);
  t.to_float(row + offset, dst, len);
}

// Σ a[j]·b[j] with eight independent partial sums.
float Dot(const float* a, const float* b, int64_t len) {
  float acc[8] = {};
  int64_t j = 0;
  for (; j + 8 <= len; j += 8) {
    for (int l = 0; l < 8; ++l) acc[l] += a[j + l] * b[j + l];
  }
  for (; j < len; ++j) acc[0] += a[j] * b[j];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

template <ChunkToFloatFn kConvert>
void ChunkedGemv(const WeightRef& w, const float* x, int64_t n, float* y, int64_t ldy, int64_t r0, int64_t r1) {
  const int64_t k = w.k;
  float buf[kChunk];
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.row(r);
    float sums[kScalarGemvRows] = {};
    for (int64_t j0 = 0; j0 < k; j0 += kChunk) {
      const int64_t len = std::min(kChunk, k - j0);
      kConvert(w, row, j0, len, buf);
      for (int64_t i = 0; i < n; ++i) sums[i] += Dot(buf, x + i * k + j0, len);
    }
    for (int64_t i = 0; i < n; ++i) y[i * ldy + r] = sums[i];
  }
}

template <ChunkToFloatFn kConvert>
void ChunkedPack(const WeightRef& w, int64_t r0, int64_t rows, int64_t c0, int64_t kc, int nr, float* dst) {
  const int64_t panels = (rows + nr - 1) / nr;
  float buf[kChunk];
  for (int64_t p = 0; p < panels; ++p) {
    float* panel = dst + p * kc * nr;
    for (int l = 0; l < nr; ++l) {
      const int64_t r = p * nr + l;
      if (r >= rows) {
        for (int64_t j = 0; j < kc; ++j) panel[j * nr + l] = 0.0f;
        continue;
      }
      const uint8_t* row = w.row(r0 + r);
      for (int64_t j0 = 0; j0 < kc; j0 += kChunk) {
        const int64_t len = std::min(kChunk, kc - j0);
        kConvert(w, row, c0 + j0, len, buf);
        for (int64_t j = 0; j < len; ++j) panel[(j0 + j) * nr + l] = buf[j];
      }
    }
  }
}

// 4 × 8 tile: 32 accumulators that SSE2 holds in eight registers.
constexpr int kScalarMr = 4;
constexpr int kScalarNr = 8;

void ScalarMicroKernel(const float* xp, const float* wp, int64_t kc, float* c, int64_t ldc, int rows, int cols,
                       bool accumulate) {
  float acc[kScalarMr][kScalarNr] = {};
  for (int64_t j = 0; j < kc; ++j) {
    const float* wj = wp + j * kScalarNr;
    const float* xj = xp + j * kScalarMr;
    for (int i = 0; i < kScalarMr; ++i) {
      for (int l = 0; l < kScalarNr; ++l) acc[i][l] += xj[i] * wj[l];
    }
  }
  for (int i = 0; i < rows; ++i) {
    float* ci = c + i * ldc;
    for (int l = 0; l < cols; ++l) ci[l] = accumulate ? ci[l] + acc[i][l] : acc[i][l];
  }
}

}  // namespace

void GenericGemv(const WeightRef& w, const float* x, int64_t n, float* y, int64_t ldy, int64_t r0, int64_t r1) {
  ChunkedGemv<GenericChunk>(w, x, n, y, ldy, r0, r1);
}

void GenericPackWeights(const WeightRef& w, int64_t r0, int64_t rows, int64_t c0, int64_t kc, int nr, float* dst) {
  ChunkedPack<GenericChunk>(w, r0, rows, c0, kc, nr, dst);
}

void GenericPackX(const float* x, int64_t ldx, int rows, int64_t kc, int mr, float* xp) {
  // Sequential writes; the sliver's rows are read as mr parallel streams.
  for (int64_t j = 0; j < kc; ++j) {
    for (int i = 0; i < rows; ++i) xp[j * mr + i] = x[i * ldx + j];
    for (int i = rows; i < mr; ++i) xp[j * mr + i] = 0.0f;
  }
}

MatMulKernels ScalarMatMulKernels(DType type) {
  switch (type) {
    case DType::kF32: return {ChunkedGemv<F32Chunk>, kScalarGemvRows, ChunkedPack<F32Chunk>};
    case DType::kF16: return {ChunkedGemv<F16Chunk>, kScalarGemvRows, ChunkedPack<F16Chunk>};
    case DType::kBF16: return {ChunkedGemv<Bf16Chunk>, kScalarGemvRows, ChunkedPack<Bf16Chunk>};
    default: return {};
  }
}

GemmKernel ScalarGemmKernel() { return {kScalarMr, kScalarNr, ScalarMicroKernel, GenericPackX}; }

}  // namespace leanlm
