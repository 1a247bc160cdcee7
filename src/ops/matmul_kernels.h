// The kernel table behind MatMul, keyed by weight type and CPU level.
//
// A weight type plugs in by registering, for each CPU level it has SIMD code
// for, a MatMulKernels row:
//   gemv  decode (few activation rows): reads each weight row once and dots
//         it with every activation row;
//   pack  prompt processing: converts a tile of the weight to F32 panels that
//         the level's F32 GEMM microkernel multiplies at FMA speed.
// Missing entries fall back to a lower level and finally to a generic path
// built on the type's TypeTraits::to_float, so a new block format works (more
// slowly) with no kernel at all. On these paths activations stay F32: no
// rounding of x, so every path matches the F32 reference up to summation
// order. Block formats with integer kernels (ops/qmatmul_kernels.h) take
// MatMul's integer path instead, which rounds x to int8 blocks.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/cpu_features.h"
#include "base/dtype.h"
#include "base/tensor.h"
#include "base/thread_pool.h"

namespace leanlm {

// A weight of m rows of k elements, as the kernels see it.
struct WeightRef {
  const uint8_t* data = nullptr;
  size_t row_bytes = 0;
  int64_t k = 0;  // elements per row
  DType type = DType::kF32;
  const uint8_t* row(int64_t r) const { return data + r * static_cast<int64_t>(row_bytes); }
};

// y[i * ldy + r] = Σ_j W[r][j] · x[i * k + j] for r in [r0, r1), i in [0, n),
// 1 ≤ n ≤ the kernel's gemv_max_rows. x: (n × k), y: (n × ldy).
using GemvFn = void (*)(const WeightRef& w, const float* x, int64_t n, float* y, int64_t ldy, int64_t r0, int64_t r1);

// Weight rows [r0, r0 + rows) and columns [c0, c0 + kc) as F32 panels of width
// nr (a multiple of 8: the GemmKernel::nr of some level):
// dst[(p * kc + j) * nr + l] = W[r0 + p·nr + l][c0 + j] for p < ceil(rows / nr);
// rows past `rows` are zero. c0 and kc are multiples of the type's block size.
using PackWeightsFn = void (*)(const WeightRef& w, int64_t r0, int64_t rows, int64_t c0, int64_t kc, int nr,
                               float* dst);

struct MatMulKernels {
  GemvFn gemv = nullptr;
  int gemv_max_rows = 0;  // MatMul uses gemv up to this many activation rows, the GEMM above
  PackWeightsFn pack = nullptr;
};

// The F32 GEMM of one CPU level.
//   kernel: C (rows × cols, row stride ldc) = (accumulate ? C : 0) + Xp · Wp,
//     where Xp is an x sliver packed as xp[j * mr + i] (kc × mr) and Wp one
//     weight panel wp[j * nr + l] (kc × nr); rows ≤ mr, cols ≤ nr.
//   pack_x: x rows [0, rows) (row stride ldx, rows ≤ mr) and kc columns into
//     such a sliver, zero past `rows`.
using GemmMicroKernelFn = void (*)(const float* xp, const float* wp, int64_t kc, float* c, int64_t ldc, int rows,
                                   int cols, bool accumulate);
using PackXFn = void (*)(const float* x, int64_t ldx, int rows, int64_t kc, int mr, float* xp);
struct GemmKernel {
  int mr = 0;
  int nr = 0;
  GemmMicroKernelFn kernel = nullptr;
  PackXFn pack_x = nullptr;
};

// Adds or replaces the kernels of a type at a level (format modules call this
// at start-up, like RegisterType).
void RegisterMatMulKernels(DType type, CpuLevel level, const MatMulKernels& kernels);

// The kernels MatMul uses for a type at a level: the highest registered entry
// at or below `level` for each function, else the generic to_float path.
MatMulKernels FindMatMulKernels(DType type, CpuLevel level);
const GemmKernel& GetGemmKernel(CpuLevel level);

// MatMul with an explicit CPU level (≤ DetectedCpuLevel()); MatMul itself
// uses ActiveCpuLevel(). Tests and benchmarks run every level through this.
void MatMulAtLevel(CpuLevel level, const TensorView& w, const float* x, int64_t n, float* y, ThreadPool& pool);

// Per-level built-in rows (kernels_<level>.cpp). A null function means "none
// at this level".
MatMulKernels ScalarMatMulKernels(DType type);
MatMulKernels Avx2MatMulKernels(DType type);
MatMulKernels Avx512MatMulKernels(DType type);
GemmKernel ScalarGemmKernel();
GemmKernel Avx2GemmKernel();
GemmKernel Avx512GemmKernel();

// The type-generic fallbacks (any type with to_float; block sizes dividing 256);
// GenericGemv takes up to kGenericGemvRows activation rows.
inline constexpr int kGenericGemvRows = 4;
void GenericGemv(const WeightRef& w, const float* x, int64_t n, float* y, int64_t ldy, int64_t r0, int64_t r1);
void GenericPackWeights(const WeightRef& w, int64_t r0, int64_t rows, int64_t c0, int64_t kc, int nr, float* dst);
void GenericPackX(const float* x, int64_t ldx, int rows, int64_t kc, int mr, float* xp);

}  // namespace leanlm
