// The scale searches shared by the K-quant reference quantizers, with ggml's
// exact iteration order and rounding (ggml-quants.c: make_qx_quants,
// make_q3_quants, make_qkx2_quants), restricted to the cases the no-imatrix
// path uses.
#pragma once

#include <cstdint>

namespace leanlm::quant {

// Symmetric quants levels[i] in 0..2*nmax-1 (value levels - nmax) for n values, choosing
// the scale that maximizes sum(w*x*l)^2 / sum(w*l*l) with w = x*x over 19
// candidate inverse scales (ggml's make_qx_quants, rmse_type 1, no weights).
// Returns the scale; all-zero input gives levels = 0 and scale 0.
float MakeQxQuants(int n, int nmax, const float* x, int8_t* levels);

// Symmetric 3-bit-style quants levels[i] in 0..2*nmax-1 refined by up to five
// passes of coordinate descent (ggml's make_q3_quants with do_rmse).
float MakeQ3Quants(int n, int nmax, const float* x, int8_t* levels);

// Asymmetric quants levels[i] in 0..nmax with x ~ scale * levels - the_min, searching
// nstep+1 inverse scales (rmin + rdelta*is + nmax) / (max - min) and solving
// weighted least squares for scale and min at each (ggml's make_qkx2_quants).
// levels_aux is scratch of n bytes. Returns the scale and sets *the_min (>= 0).
float MakeQkx2Quants(int n, int nmax, const float* x, const float* weights, uint8_t* levels, float* the_min,
                     uint8_t* levels_aux, float rmin, float rdelta, int nstep, bool use_mad);

// 6-bit scale and min of sub-block j from the 12 packed bytes of Q4_K/Q5_K.
void GetScaleMinK4(int j, const uint8_t* q, uint8_t* d, uint8_t* m);

// Packs 6-bit scale ls and min lm of sub-block j (0..7) into 12 bytes, the
// inverse of GetScaleMinK4. Bytes must start zeroed for j >= 4 to combine.
void PutScaleMinK4(int j, uint8_t ls, uint8_t lm, uint8_t* q);

// The shared part of Q4_K and Q5_K (ggml's quantize_row_q{4,5}_K_ref): for one
// super-block of 256 values, searches each group of 32 with MakeQkx2Quants
// (weights av_x + |x|), rounds group scales and mins to 6 bits under the fp16
// super-block scales *d and *dmin, packs them into scales[12], and writes the
// final quants levels[256] in 0..nmax requantized against the rounded scales.
void QuantizeSuperBlockK4(const float* x, int nmax, float rmin, int nstep, uint8_t* levels, uint16_t* d, uint16_t* dmin,
                          uint8_t* scales);

}  // namespace leanlm::quant
