// Function attributes for the AVX-512 VNNI kernels: their files compile for
// baseline x86-64 and mark only these functions for the wider instruction
// set; MatMul calls them only when the CPU has AVX512-VNNI.
#pragma once

#define LEANLM_VNNI_TARGET "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"
#define LEANLM_VNNI __attribute__((target(LEANLM_VNNI_TARGET)))
#define LEANLM_VNNI_INLINE inline __attribute__((always_inline, target(LEANLM_VNNI_TARGET)))
#define LEANLM_VNNI_LAMBDA __attribute__((always_inline, target(LEANLM_VNNI_TARGET)))
#define LEANLM_UNROLL _Pragma("GCC unroll 32")
