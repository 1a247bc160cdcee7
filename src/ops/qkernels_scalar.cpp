// The integer path's portable half: one unpacker per block format (the
// formats' dequantizers, stopped before the multiply), the scalar reference
// gemv built on them, and the GEMM's operand packing.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "base/fp16.h"
#include "ops/qmatmul_kernels.h"
#include "quant/formats/iq4_nl.h"
#include "quant/formats/kquant_common.h"
#include "quant/formats/q2_k.h"
#include "quant/formats/q3_k.h"
#include "quant/formats/q4_0.h"
#include "quant/formats/q4_1.h"
#include "quant/formats/q4_k.h"
#include "quant/formats/q5_0.h"
#include "quant/formats/q5_1.h"
#include "quant/formats/q5_k.h"
#include "quant/formats/q6_k.h"
#include "quant/formats/q8_0.h"
#include "quant/formats/tq2_0.h"

namespace leanlm {
namespace {

namespace q = quant;

constexpr int64_t kChunk = 256;  // columns unpacked at a time; a multiple of every block size

template <class Block>
const Block* Blocks(const uint8_t* row, int64_t c0, int64_t block_size) {
  return reinterpret_cast<const Block*>(row) + c0 / block_size;
}

uint32_t Qh32(const uint8_t qh[4]) {
  return qh[0] | (qh[1] << 8) | (qh[2] << 16) | (static_cast<uint32_t>(qh[3]) << 24);
}

// 32-value blocks: one scale (and bias) per block.
void UnpackQ8_0(const uint8_t* row, int64_t c0, int64_t kc, int8_t* v, float* scale, float* bias) {
  const auto* b = Blocks<q::BlockQ8_0>(row, c0, 32);
  for (int64_t i = 0; i < kc / 32; ++i, v += 32) {
    std::memcpy(v, b[i].qs, 32);
    scale[i] = Fp16ToFp32(b[i].d);
    bias[i] = 0.0f;
  }
}

void UnpackQ4_0(const uint8_t* row, int64_t c0, int64_t kc, int8_t* v, float* scale, float* bias) {
  const auto* b = Blocks<q::BlockQ4_0>(row, c0, 32);
  for (int64_t i = 0; i < kc / 32; ++i, v += 32) {
    for (int j = 0; j < 16; ++j) {
      v[j] = static_cast<int8_t>((b[i].qs[j] & 0xf) - 8);
      v[j + 16] = static_cast<int8_t>((b[i].qs[j] >> 4) - 8);
    }
    scale[i] = Fp16ToFp32(b[i].d);
    bias[i] = 0.0f;
  }
}

void UnpackQ4_1(const uint8_t* row, int64_t c0, int64_t kc, int8_t* v, float* scale, float* bias) {
  const auto* b = Blocks<q::BlockQ4_1>(row, c0, 32);
  for (int64_t i = 0; i < kc / 32; ++i, v += 32) {
    for (int j = 0; j < 16; ++j) {
      v[j] = static_cast<int8_t>(b[i].qs[j] & 0xf);
      v[j + 16] = static_cast<int8_t>(b[i].qs[j] >> 4);
    }
    scale[i] = Fp16ToFp32(b[i].d);
    bias[i] = Fp16ToFp32(b[i].m);
  }
}

template <class Block, int kOffset>
void UnpackQ5(const uint8_t* row, int64_t c0, int64_t kc, int8_t* v, float* scale, float* bias) {
  const auto* b = Blocks<Block>(row, c0, 32);
  for (int64_t i = 0; i < kc / 32; ++i, v += 32) {
    const uint32_t qh = Qh32(b[i].qh);
    for (int j = 0; j < 16; ++j) {
      v[j] = static_cast<int8_t>(((b[i].qs[j] & 0xf) | (((qh >> j) & 1) << 4)) - kOffset);
      v[j + 16] = static_cast<int8_t>(((b[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - kOffset);
    }
    scale[i] = Fp16ToFp32(b[i].d);
    if constexpr (kOffset == 0) {
      bias[i] = Fp16ToFp32(b[i].m);
    } else {
      bias[i] = 0.0f;
    }
  }
}

void UnpackIQ4_NL(const uint8_t* row, int64_t c0, int64_t kc, int8_t* v, float* scale, float* bias) {
  const auto* b = Blocks<q::BlockIQ4_NL>(row, c0, 32);
  for (int64_t i = 0; i < kc / 32; ++i, v += 32) {
    for (int j = 0; j < 16; ++j) {
      v[j] = q::kIq4nlValues[b[i].qs[j] & 0xf];
      v[j + 16] = q::kIq4nlValues[b[i].qs[j] >> 4];
    }
    scale[i] = Fp16ToFp32(b[i].d);
    bias[i] = 0.0f;
  }
}

// K-quants: 256-value super-blocks.
template <bool kFive>
void UnpackQ45_K(const uint8_t* row, int64_t c0, int64_t kc, int8_t* v, float* scale, float* bias) {
  using Block = std::conditional_t<kFive, q::BlockQ5_K, q::BlockQ4_K>;
  const auto* b = Blocks<Block>(row, c0, q::kQK_K);
  for (int64_t i = 0; i < kc / q::kQK_K; ++i) {
    const float d = Fp16ToFp32(b[i].d), dmin = Fp16ToFp32(b[i].dmin);
    const uint8_t* qs = b[i].qs;
    for (int p = 0; p < 4; ++p, qs += 32) {  // 64 values: low nibbles, then high nibbles
      for (int h = 0; h < 2; ++h, v += 32, ++scale, ++bias) {
        uint8_t sc, m;
        q::GetScaleMinK4(2 * p + h, b[i].scales, &sc, &m);
        *scale = d * sc;
        *bias = -(dmin * m);
        for (int l = 0; l < 32; ++l) {
          int x = (qs[l] >> (4 * h)) & 0xf;
          if constexpr (kFive) x |= ((b[i].qh[l] >> (2 * p + h)) & 1) << 4;
          v[l] = static_cast<int8_t>(x);
        }
      }
    }
  }
}

void UnpackQ6_K(const uint8_t* row, int64_t c0, int64_t kc, int8_t* v, float* scale, float* bias) {
  const auto* b = Blocks<q::BlockQ6_K>(row, c0, q::kQK_K);
  for (int64_t i = 0; i < kc / q::kQK_K; ++i, v += q::kQK_K) {
    const float d = Fp16ToFp32(b[i].d);
    for (int g = 0; g < 16; ++g) {
      *scale++ = d * b[i].scales[g];
      *bias++ = 0.0f;
    }
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = b[i].ql + 64 * half;
      const uint8_t* qh = b[i].qh + 32 * half;
      int8_t* o = v + 128 * half;
      for (int l = 0; l < 32; ++l) {
        o[l] = static_cast<int8_t>(((ql[l] & 0xf) | ((qh[l] & 3) << 4)) - 32);
        o[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32);
        o[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        o[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
    }
  }
}

void UnpackQ3_K(const uint8_t* row, int64_t c0, int64_t kc, int8_t* v, float* scale, float* bias) {
  const auto* b = Blocks<q::BlockQ3_K>(row, c0, q::kQK_K);
  for (int64_t i = 0; i < kc / q::kQK_K; ++i) {
    const float d = Fp16ToFp32(b[i].d);
    for (int g = 0; g < 16; ++g) {
      const int low = g < 8 ? b[i].scales[g] & 0xf : b[i].scales[g - 8] >> 4;
      const int high = (b[i].scales[8 + g % 4] >> (2 * (g / 4))) & 3;
      *scale++ = d * static_cast<float>((low | (high << 4)) - 32);
      *bias++ = 0.0f;
    }
    // Value 128h + 32s + l: bits 2s..2s+1 of qs[32h + l], high bit (h·4 + s) of hmask[l].
    for (int h = 0; h < 2; ++h) {
      for (int s = 0; s < 4; ++s) {
        for (int l = 0; l < 32; ++l) {
          const int low = (b[i].qs[32 * h + l] >> (2 * s)) & 3;
          const int high = (b[i].hmask[l] >> (4 * h + s)) & 1;
          *v++ = static_cast<int8_t>(low - (high ? 0 : 4));
        }
      }
    }
  }
}

void UnpackQ2_K(const uint8_t* row, int64_t c0, int64_t kc, int8_t* v, float* scale, float* bias) {
  const auto* b = Blocks<q::BlockQ2_K>(row, c0, q::kQK_K);
  for (int64_t i = 0; i < kc / q::kQK_K; ++i) {
    const float d = Fp16ToFp32(b[i].d), dmin = Fp16ToFp32(b[i].dmin);
    for (int g = 0; g < 16; ++g) {
      *scale++ = d * static_cast<float>(b[i].scales[g] & 0xf);
      *bias++ = -(dmin * static_cast<float>(b[i].scales[g] >> 4));
    }
    for (int h = 0; h < 2; ++h) {
      for (int s = 0; s < 4; ++s) {
        for (int l = 0; l < 32; ++l) *v++ = static_cast<int8_t>((b[i].qs[32 * h + l] >> (2 * s)) & 3);
      }
    }
  }
}

void UnpackTQ2_0(const uint8_t* row, int64_t c0, int64_t kc, int8_t* v, float* scale, float* bias) {
  const auto* b = Blocks<q::BlockTQ2_0>(row, c0, q::kQK_K);
  for (int64_t i = 0; i < kc / q::kQK_K; ++i) {
    const float d = Fp16ToFp32(b[i].d);
    for (int g = 0; g < 8; ++g) {
      *scale++ = d;
      *bias++ = 0.0f;
    }
    for (int h = 0; h < 2; ++h) {
      for (int s = 0; s < 4; ++s) {
        for (int l = 0; l < 32; ++l) *v++ = static_cast<int8_t>(((b[i].qs[32 * h + l] >> (2 * s)) & 3) - 1);
      }
    }
  }
}

}  // namespace

const QTypeInfo* FindQTypeInfo(DType type) {
  static const QTypeInfo kQ8_0{32, false, UnpackQ8_0}, kQ4_0{32, false, UnpackQ4_0}, kQ4_1{32, true, UnpackQ4_1},
      kQ5_0{32, false, UnpackQ5<q::BlockQ5_0, 16>}, kQ5_1{32, true, UnpackQ5<q::BlockQ5_1, 0>},
      kIQ4_NL{32, false, UnpackIQ4_NL}, kQ4_K{32, true, UnpackQ45_K<false>}, kQ5_K{32, true, UnpackQ45_K<true>},
      kQ6_K{16, false, UnpackQ6_K}, kQ3_K{16, false, UnpackQ3_K}, kQ2_K{16, true, UnpackQ2_K},
      kTQ2_0{32, false, UnpackTQ2_0};
  switch (type) {
    case DType::kQ8_0: return &kQ8_0;
    case DType::kQ4_0: return &kQ4_0;
    case DType::kQ4_1: return &kQ4_1;
    case DType::kQ5_0: return &kQ5_0;
    case DType::kQ5_1: return &kQ5_1;
    case DType::kIQ4_NL: return &kIQ4_NL;
    case DType::kQ4_K: return &kQ4_K;
    case DType::kQ5_K: return &kQ5_K;
    case DType::kQ6_K: return &kQ6_K;
    case DType::kQ3_K: return &kQ3_K;
    case DType::kQ2_K: return &kQ2_K;
    case DType::kTQ2_0: return &kTQ2_0;
    default: return nullptr;
  }
}

namespace {

// y[i * ldy] += row r · x_i over columns [c_begin, k), for every activation row i.
void AddRowDots(const WeightRef& w, const QuantizedActs& x, int64_t r, int64_t c_begin, float* y, int64_t ldy) {
  const QTypeInfo& info = *FindQTypeInfo(w.type);
  const int64_t k = w.k;
  const int g = info.group;
  int8_t v[kChunk];
  float scale[kChunk / 16], bias[kChunk / 16];
  for (int64_t c0 = c_begin; c0 < k; c0 += kChunk) {
    const int64_t len = std::min(kChunk, k - c0);
    info.unpack(w.row(r), c0, len, v, scale, bias);
    for (int64_t i = 0; i < x.n; ++i) {
      const int8_t* xq = x.q_row(i) + c0;
      float sum = 0.0f;
      for (int64_t j0 = 0; j0 < len; j0 += g) {
        int32_t dot = 0, qsum = 0;
        for (int j = 0; j < g; ++j) {
          dot += v[j0 + j] * xq[j0 + j];
          qsum += xq[j0 + j];
        }
        const float d = x.d(i, (c0 + j0) / kActBlock);
        sum += d * (scale[j0 / g] * static_cast<float>(dot) + bias[j0 / g] * static_cast<float>(qsum));
      }
      y[i * ldy] += sum;
    }
  }
}

}  // namespace

void ScalarQGemv(const WeightRef& w, const QuantizedActs& x, float* y, int64_t ldy, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    for (int64_t i = 0; i < x.n; ++i) y[i * ldy + r] = 0.0f;
    AddRowDots(w, x, r, 0, y + r, ldy);
  }
}

void ScalarQDotTail(const WeightRef& w, const QuantizedActs& x, int64_t r, int64_t c0, float* out) {
  for (int64_t i = 0; i < x.n; ++i) out[i] = 0.0f;
  AddRowDots(w, x, r, c0, out, 1);
}

size_t QPanelBytes(int64_t kc, int nr, int group) {
  return static_cast<size_t>(kc * nr + (kc / group) * nr * 12);
}

size_t QSliverBytes(int64_t kc, int mr, int group) { return static_cast<size_t>(kc * mr + (kc / group) * mr * 8); }

void GenericQPackWeights(const WeightRef& w, int64_t r0, int64_t rows, int64_t c0, int64_t kc, int nr,
                         uint8_t* dst) {
  const QTypeInfo& info = *FindQTypeInfo(w.type);
  const int g = info.group;
  const int64_t groups = kc / g;
  int8_t v[kQKc];
  float scale[kQKc / 16], bias[kQKc / 16];
  LEANLM_CHECK(kc <= kQKc);
  const int64_t panels = (rows + nr - 1) / nr;
  for (int64_t p = 0; p < panels; ++p) {
    uint8_t* panel = dst + p * QPanelBytes(kc, nr, g);
    auto* ps = reinterpret_cast<float*>(panel + kc * nr);
    float* pb = ps + groups * nr;
    auto* pi = reinterpret_cast<int32_t*>(pb + groups * nr);
    for (int l = 0; l < nr; ++l) {
      const int64_t r = p * nr + l;
      if (r < rows) {
        info.unpack(w.row(r0 + r), c0, kc, v, scale, bias);
      } else {
        std::memset(v, 0, kc);
        std::fill(scale, scale + groups, 0.0f);
        std::fill(bias, bias + groups, 0.0f);
      }
      for (int64_t j = 0; j < kc; j += 4) std::memcpy(panel + (j * nr + 4 * l), v + j, 4);
      for (int64_t gi = 0; gi < groups; ++gi) {
        int32_t sum = 0;
        for (int j = 0; j < g; ++j) sum += v[gi * g + j];
        ps[gi * nr + l] = scale[gi];
        pb[gi * nr + l] = bias[gi];
        pi[gi * nr + l] = -128 * sum;
      }
    }
  }
}

void QPackX(const QuantizedActs& x, int64_t i0, int rows, int64_t c0, int64_t kc, int mr, int group, uint8_t* dst) {
  const int64_t groups = kc / group;
  auto* xd = reinterpret_cast<float*>(dst + kc * mr);
  float* xs = xd + groups * mr;
  for (int i = 0; i < mr; ++i) {
    if (i >= rows) {
      for (int64_t j = 0; j < kc; j += 4) std::memset(dst + j * mr + 4 * i, 0x80, 4);  // q = 0
      for (int64_t gi = 0; gi < groups; ++gi) xd[gi * mr + i] = xs[gi * mr + i] = 0.0f;
      continue;
    }
    const int8_t* q = x.q_row(i0 + i) + c0;
    for (int64_t j = 0; j < kc; j += 4) {
      uint8_t* o = dst + j * mr + 4 * i;
      for (int t = 0; t < 4; ++t) o[t] = static_cast<uint8_t>(q[j + t] ^ 0x80);
    }
    for (int64_t gi = 0; gi < groups; ++gi) {
      int32_t sum = 0;
      for (int j = 0; j < group; ++j) sum += q[gi * group + j];
      const float d = x.d(i0 + i, (c0 + gi * group) / kActBlock);
      xd[gi * mr + i] = d;
      xs[gi * mr + i] = d * static_cast<float>(sum);
    }
  }
}

QMatMulKernels ScalarQMatMulKernels(DType type) {
  if (FindQTypeInfo(type) == nullptr) return {};
  return {ScalarQGemv, kQGemvMaxRows, nullptr};
}

}  // namespace leanlm
