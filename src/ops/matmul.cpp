// MatMul's dispatch and blocking. Decode and small batches (n ≤ the kernel's
// gemv_max_rows) stream each weight row once through the type's gemv, each
// thread through its own contiguous share of the rows (ops/gemv_split.h).
// Prompt processing is a blocked GEMM (Goto/BLIS style): x is packed
// once into kc × mr slivers shared by all threads, each thread converts a
// tile of mc weight rows × kc columns to F32 panels (kept in L2) and runs the
// level's register-tile microkernel over every sliver and panel.
#include "ops/matmul.h"

#include <algorithm>
#include <array>

#include "ops/gemm_tiles.h"
#include "ops/gemv_split.h"
#include "ops/matmul_kernels.h"
#include "ops/qmatmul_kernels.h"

namespace leanlm {
namespace {

constexpr int64_t kKc = 1024;                  // GEMM depth block: a multiple of every block size
constexpr int64_t kMaxMc = 64;                 // GEMM weight rows per tile: kKc·kMaxMc·4 B = 256 KiB in L2

struct KernelRegistry {
  std::array<std::array<MatMulKernels, kNumCpuLevels>, kMaxTypeId> rows{};
  std::array<GemmKernel, kNumCpuLevels> gemm{};

  KernelRegistry() {
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
      auto& row = rows[static_cast<uint32_t>(t)];
      row[static_cast<int>(CpuLevel::kScalar)] = ScalarMatMulKernels(t);
      row[static_cast<int>(CpuLevel::kAvx2)] = Avx2MatMulKernels(t);
      row[static_cast<int>(CpuLevel::kAvx512)] = Avx512MatMulKernels(t);
    }
    gemm[static_cast<int>(CpuLevel::kScalar)] = ScalarGemmKernel();
    gemm[static_cast<int>(CpuLevel::kAvx2)] = Avx2GemmKernel();
    gemm[static_cast<int>(CpuLevel::kAvx512)] = Avx512GemmKernel();
  }
};

KernelRegistry& GetKernelRegistry() {
  static KernelRegistry registry;
  return registry;
}

void Gemv(GemvFn gemv, const WeightRef& w, const float* x, int64_t n, float* y, int64_t m, ThreadPool& pool) {
  ForEachGemvChunk(pool, m, w.row_bytes, [&](int64_t r0, int64_t r1) { gemv(w, x, n, y, m, r0, r1); });
}

// xp: for each depth block b (columns c0 = b·kKc, width kc), the slivers of
// mr rows: xp[c0·n_pad + s·kc·mr + j·mr + i] = x[s·mr + i][c0 + j], zero-padded
// to n_pad rows.
void PackX(const GemmKernel& g, const float* x, int64_t n, int64_t k, int64_t slivers, float* xp, ThreadPool& pool) {
  const int mr = g.mr;
  const int64_t n_pad = slivers * mr;
  pool.ParallelFor(slivers, 4, [&](int64_t s0, int64_t s1) {
    for (int64_t c0 = 0; c0 < k; c0 += kKc) {
      const int64_t kc = std::min(kKc, k - c0);
      for (int64_t s = s0; s < s1; ++s) {
        const int rows = static_cast<int>(std::min<int64_t>(mr, n - s * mr));
        g.pack_x(x + s * mr * k + c0, k, rows, kc, mr, xp + c0 * n_pad + s * kc * mr);
      }
    }
  });
}

void Gemm(PackWeightsFn pack, const GemmKernel& g, const WeightRef& w, const float* x, int64_t n, float* y, int64_t m,
          ThreadPool& pool) {
  const int64_t k = w.k;
  const int mr = g.mr, nr = g.nr;
  const int64_t slivers = (n + mr - 1) / mr;
  const int64_t n_pad = slivers * mr;
  auto* xp = static_cast<float*>(pool.Scratch(pool.size(), static_cast<size_t>(n_pad * k) * sizeof(float)));
  PackX(g, x, n, k, slivers, xp, pool);

  ForEachGemmTile(pool, m, k, nr, kMaxMc, kKc, [&](const GemmTile& t) {
    auto* wp = static_cast<float*>(pool.Scratch(t.thread, static_cast<size_t>(t.mc * std::min(kKc, k)) * sizeof(float)));
    pack(w, t.r0, t.rows, t.c0, t.kc, nr, wp);
    const float* xb = xp + t.c0 * n_pad;
    ForEachSliverPanel(n, mr, t.rows, nr, [&](int64_t s, int sr, int64_t p, int pc) {
      g.kernel(xb + s * t.kc * mr, wp + p * t.kc * nr, t.kc, y + s * mr * m + t.r0 + p * nr, m, sr, pc, t.c0 > 0);
    });
  });
}

}  // namespace

void RegisterMatMulKernels(DType type, CpuLevel level, const MatMulKernels& kernels) {
  const auto id = static_cast<uint32_t>(type);
  LEANLM_CHECK(id < kMaxTypeId);
  GetKernelRegistry().rows[id][static_cast<int>(level)] = kernels;
}

MatMulKernels FindMatMulKernels(DType type, CpuLevel level) {
  const auto id = static_cast<uint32_t>(type);
  LEANLM_CHECK(id < kMaxTypeId);
  const auto& row = GetKernelRegistry().rows[id];
  MatMulKernels found;
  for (int l = static_cast<int>(level); l >= 0; --l) {
    if (!found.gemv && row[l].gemv) {
      found.gemv = row[l].gemv;
      found.gemv_max_rows = row[l].gemv_max_rows;
    }
    if (!found.pack) found.pack = row[l].pack;
  }
  if (!found.gemv) {
    found.gemv = GenericGemv;
    found.gemv_max_rows = kGenericGemvRows;
  }
  if (!found.pack) found.pack = GenericPackWeights;
  return found;
}

const GemmKernel& GetGemmKernel(CpuLevel level) {
  const auto& gemm = GetKernelRegistry().gemm;
  for (int l = static_cast<int>(level); l > 0; --l) {
    if (gemm[l].kernel) return gemm[l];
  }
  return gemm[0];
}

namespace {

// integer: block-quantized weights may take the int8-activation path.
void MatMulImpl(CpuLevel level, const TensorView& w, const float* x, int64_t n, float* y, ThreadPool& pool,
                bool integer) {
  LEANLM_CHECK(CpuLevelSupported(level));
  LEANLM_CHECK(w.n_dims > 0 && n >= 0);
  const TypeTraits* traits = FindTypeTraits(w.type);
  LEANLM_CHECK(traits != nullptr && traits->to_float != nullptr);  // a type one can compute with
  const int64_t m = w.rows();
  if (n == 0 || m == 0) return;
  if (w.cols() == 0) {  // empty sums
    std::fill(y, y + n * m, 0.0f);
    return;
  }
  LEANLM_CHECK(w.data != nullptr && x != nullptr);
  const WeightRef ref{static_cast<const uint8_t*>(w.data), w.row_bytes(), w.cols(), w.type};
  // Block-quantized weights take the integer path where it has a kernel for
  // this batch size; prompt processing without an integer GEMM stays F32.
  const QMatMulKernels qkernels = FindQMatMulKernels(w.type, level);
  if (integer && qkernels.gemv != nullptr &&
      (n <= qkernels.gemv_max_rows || (qkernels.pack != nullptr && GetQGemmKernel(level).kernel != nullptr))) {
    QuantizedMatMul(qkernels, level, ref, x, n, y, m, pool);
    return;
  }
  const MatMulKernels kernels = FindMatMulKernels(w.type, level);
  if (n <= kernels.gemv_max_rows) {
    Gemv(kernels.gemv, ref, x, n, y, m, pool);
  } else {
    Gemm(kernels.pack, GetGemmKernel(level), ref, x, n, y, m, pool);
  }
}

}  // namespace

void MatMulAtLevel(CpuLevel level, const TensorView& w, const float* x, int64_t n, float* y, ThreadPool& pool) {
  MatMulImpl(level, w, x, n, y, pool, /*integer=*/true);
}

void MatMul(const TensorView& w, const float* x, int64_t n, float* y, ThreadPool& pool) {
  MatMulImpl(ActiveCpuLevel(), w, x, n, y, pool, /*integer=*/true);
}

void MatMulF32Activations(const TensorView& w, const float* x, int64_t n, float* y, ThreadPool& pool) {
  MatMulImpl(ActiveCpuLevel(), w, x, n, y, pool, /*integer=*/false);
}

}  // namespace leanlm
