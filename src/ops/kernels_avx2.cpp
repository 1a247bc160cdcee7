// AVX2 kernels (AVX2 + FMA + F16C: Haswell, Zen 1 and later).
#include "ops/matmul_kernels.h"

namespace leanlm {

MatMulKernels Avx2MatMulKernels(DType) { return {}; }
GemmKernel Avx2GemmKernel() { return {}; }

}  // namespace leanlm
