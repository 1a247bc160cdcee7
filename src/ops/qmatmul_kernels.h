// The integer path of MatMul for block-quantized weights (Q8_0, Q4_0, Q4_K,
// ...): x is quantized once per call (ops/quantize_activations.h) and the
// kernels dot weight quants with activation quants in int32, scaling per
// block in F32. Types without an entry here (F32/F16/BF16, NF4, FP4, the INT
// groups, TQ1_0) keep the exact F32 path of ops/matmul_kernels.h.
//
// Every type has a scalar unpacker that turns a weight row into signed int8
// values with one scale and one bias per group of 16 or 32 values,
//   W[r][j] = scale[g] · v[j] + bias[g]   (j in group g),
// which drives the scalar reference gemv (the path for CPUs without the SIMD
// kernels, and what the SIMD kernels are tested against) and the packing of
// the int8 GEMM. SIMD levels register fused gemv kernels and panel packers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "base/cpu_features.h"
#include "ops/matmul_kernels.h"
#include "ops/quantize_activations.h"

namespace leanlm {

inline constexpr int64_t kQKc = 1024;    // integer GEMM depth block: a multiple of every block size
inline constexpr int kQGemvMaxRows = 4;  // activation rows up to which gemv beats the integer GEMM

// Calls fn(std::integral_constant<int, n>{}) for n in [1, kQGemvMaxRows], so a
// gemv can be a template over its activation rows; false for other n.
template <typename Fn>
bool WithGemvRows(int64_t n, const Fn& fn) {
  switch (n) {
    case 1: fn(std::integral_constant<int, 1>{}); return true;
    case 2: fn(std::integral_constant<int, 2>{}); return true;
    case 3: fn(std::integral_constant<int, 3>{}); return true;
    case 4: fn(std::integral_constant<int, 4>{}); return true;
    default: return false;
  }
}

// y[i * ldy + r] = Σ_j W[r][j] · d_i(j) · q_i[j] for r in [r0, r1), i < x.n.
using QGemvFn = void (*)(const WeightRef& w, const QuantizedActs& x, float* y, int64_t ldy, int64_t r0, int64_t r1);

// Columns [c0, c0 + kc) of one weight row (c0, kc multiples of the type's
// block size) as v[kc], scale[kc / group], bias[kc / group].
using QUnpackFn = void (*)(const uint8_t* row, int64_t c0, int64_t kc, int8_t* v, float* scale, float* bias);

struct QTypeInfo {
  int group = 0;          // values per scale: 16 or 32
  bool has_bias = false;  // whether bias can be nonzero (Q4_1, Q5_1, Q4_K, Q5_K, Q2_K)
  QUnpackFn unpack = nullptr;
};

// The integer GEMM's operands for one depth block of kc columns (a multiple
// of 32), with G = the type's group:
//   weight panel of nr rows: int8 w[kc/4][nr][4]; float scale[kc/G][nr];
//     float bias[kc/G][nr]; int32 init[kc/G][nr] = -128 · Σ_group v
//     (rows past the matrix are zero);
//   activation sliver of mr rows: uint8 x[kc/4][mr][4] = q + 128;
//     float xd[kc/G][mr] = d; float xs[kc/G][mr] = d · Σ_group q.
// So Σ_group v·q = init + Σ_group v·(q + 128): unsigned × signed bytes, the
// operand order of vpdpbusd.
size_t QPanelBytes(int64_t kc, int nr, int group);
size_t QSliverBytes(int64_t kc, int mr, int group);

// Weight rows [r0, r0 + rows) as ceil(rows / nr) consecutive panels.
using QPackWeightsFn = void (*)(const WeightRef& w, int64_t r0, int64_t rows, int64_t c0, int64_t kc, int nr,
                                uint8_t* dst);
// c (rows × cols, stride ldc) = (accumulate ? c : 0) + the sliver · the panel
// (rows ≤ mr, cols ≤ nr).
using QMicroKernelFn = void (*)(const uint8_t* xp, const uint8_t* wp, int64_t kc, int group, bool bias, float* c,
                                int64_t ldc, int rows, int cols, bool accumulate);

struct QMatMulKernels {
  QGemvFn gemv = nullptr;
  int gemv_max_rows = 0;        // MatMul uses gemv up to this many rows, the integer GEMM above
  QPackWeightsFn pack = nullptr;  // null: prompt processing takes the F32 path
  int act_shift = 0;              // the QuantizedActs::nls_shift gemv expects
  bool act_interleaved = false;   // whether gemv reads QuantizedActs' interleaved copy
};
struct QGemmKernel {
  int mr = 0;
  int nr = 0;
  QMicroKernelFn kernel = nullptr;
};

// nullptr for types the integer path does not handle.
const QTypeInfo* FindQTypeInfo(DType type);

// The kernels of a type at a level: the row of the highest level at or below
// `level` that has a gemv for it (the scalar reference at worst). Packers (the
// integer GEMM) exist only at the AVX-512 VNNI level; elsewhere prompt
// processing takes the F32 path. All null if the type has no integer path.
QMatMulKernels FindQMatMulKernels(DType type, CpuLevel level);
QGemmKernel GetQGemmKernel(CpuLevel level);

// Per-level rows (qkernels_<level>.cpp); null where a level has none. The
// AVX2 row covers Q8_0, Q4_0, Q4_K and Q6_K; the AVX-512 row every type.
QMatMulKernels ScalarQMatMulKernels(DType type);
QMatMulKernels Avx2QMatMulKernels(DType type);
QMatMulKernels Avx512QMatMulKernels(DType type);  // needs AVX512-VNNI on top of the level
QPackWeightsFn Avx512QPackWeights(DType type);    // qgemm_avx512.cpp: any integer-path type
QGemmKernel Avx512QGemmKernel();
// Kernels for weights packed 16 rows at a time (packed_avx512.cpp; see
// ops/packed_weights.h): Q4_0, Q8_0 and Q2_K-Q6_K.
QMatMulKernels Avx512PackedQMatMulKernels(DType type);

// The scalar reference (any type with a QTypeInfo; any number of rows).
void ScalarQGemv(const WeightRef& w, const QuantizedActs& x, float* y, int64_t ldy, int64_t r0, int64_t r1);
// Row r's dot with each activation row over columns [c0, k) (c0 a multiple
// of the type's block size), into out[0..x.n): the SIMD kernels' tails.
void ScalarQDotTail(const WeightRef& w, const QuantizedActs& x, int64_t r, int64_t c0, float* out);
// Packing through the scalar unpacker, and the activation sliver packer.
void GenericQPackWeights(const WeightRef& w, int64_t r0, int64_t rows, int64_t c0, int64_t kc, int nr, uint8_t* dst);
void QPackX(const QuantizedActs& x, int64_t i0, int rows, int64_t c0, int64_t kc, int mr, int group, uint8_t* dst);

// MatMul's integer path (qmatmul.cpp): y (n × m) for the weight w and x.
// y[i] (n × m of w[i]) for `count` weights of the same depth over the same x
// (n ≤ kQGemvMaxRows), kernels sharing one activation layout: x is quantized
// once and the rows of all weights are shared among the threads in one pass.
void QuantizedGemvMany(const QMatMulKernels* kernels, const WeightRef* w, const int64_t* m, float* const* y, int count,
                       const float* x, int64_t n, ThreadPool& pool);
void QuantizedMatMul(const QMatMulKernels& kernels, CpuLevel level, const WeightRef& w, const float* x, int64_t n,
                     float* y, int64_t m, ThreadPool& pool);

}  // namespace leanlm
