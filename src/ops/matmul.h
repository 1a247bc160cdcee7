// y = x · Wᵀ for a weight W with ne {k, m} (m rows of k) of any registered
// type and n activation rows x (n × k, F32): y is n × m. n == 1 is decode
// (matrix-vector, bound by memory bandwidth); n > 1 is prompt processing
// (matrix-matrix, bound by FMA throughput). Multithreaded over the pool.
//
// The kernels are chosen at run time for the CPU (see ops/matmul_kernels.h
// and LEANLM_CPU in base/cpu_features.h). For F32, F16 and BF16 weights (and
// the block formats without integer kernels) activations are never rounded:
// every path equals the F32 product up to summation order. Block-quantized
// weights with integer kernels (Q8_0, Q4_0, Q4_K, ...: ops/qmatmul_kernels.h)
// round x to int8 per block of 32 first, as llama.cpp does; each activation
// moves by at most max|x_block| / 254. MatMul uses the pool's
// scratch slots (callers must not keep data there across the call) and must
// not be called from inside one of the pool's parallel regions.
#pragma once

#include <cstdint>

#include "base/tensor.h"
#include "base/thread_pool.h"

namespace leanlm {

void MatMul(const TensorView& w, const float* x, int64_t n, float* y, ThreadPool& pool);

// MatMul that never rounds the activations, for any weight type: the product
// of x with the dequantized weight up to summation order. Training uses it, so
// that gradients are those of the function the forward computes.
void MatMulF32Activations(const TensorView& w, const float* x, int64_t n, float* y, ThreadPool& pool);

}  // namespace leanlm
