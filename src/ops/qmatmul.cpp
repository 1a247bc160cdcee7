// MatMul's integer path: quantizes x once into the pool's shared scratch
// slot, then either streams weight rows through the type's gemv (decode,
// rows shared as in matmul.cpp) or runs the blocked int8 GEMM:
// x packed once into slivers shared by all threads, each thread unpacking a
// tile of weight rows into int8 panels (kept in L2) and running the level's
// register-tile microkernel over every sliver and panel.
#include <algorithm>

#include "ops/gemm_tiles.h"
#include "ops/gemv_split.h"
#include "ops/qmatmul_kernels.h"

namespace leanlm {
namespace {

constexpr int64_t kMaxMc = 64;                 // GEMM weight rows per tile

size_t Align64(size_t bytes) { return (bytes + 63) / 64 * 64; }

void QGemvChunks(QGemvFn gemv, const WeightRef& w, const QuantizedActs& x, float* y, int64_t m, ThreadPool& pool) {
  ForEachGemvChunk(pool, m, w.row_bytes, [&](int64_t r0, int64_t r1) { gemv(w, x, y, m, r0, r1); });
}

void QGemm(QPackWeightsFn pack, const QGemmKernel& g, int group, bool bias, const WeightRef& w,
           const QuantizedActs& x, const uint8_t* xp, float* y, int64_t m, ThreadPool& pool) {
  const int64_t k = w.k, n = x.n;
  const int mr = g.mr, nr = g.nr;
  const int64_t slivers = (n + mr - 1) / mr;
  ForEachGemmTile(pool, m, k, nr, kMaxMc, kQKc, [&](const GemmTile& t) {
    const size_t panel_bytes = QPanelBytes(std::min(kQKc, k), nr, group);
    auto* wp = static_cast<uint8_t*>(pool.Scratch(t.thread, panel_bytes * static_cast<size_t>(t.mc / nr)));
    pack(w, t.r0, t.rows, t.c0, t.kc, nr, wp);
    const uint8_t* xb = xp + static_cast<size_t>(t.c0 / kQKc) * slivers * QSliverBytes(kQKc, mr, group);
    const size_t sliver_bytes = QSliverBytes(t.kc, mr, group);
    const size_t pb = QPanelBytes(t.kc, nr, group);
    ForEachSliverPanel(n, mr, t.rows, nr, [&](int64_t s, int sr, int64_t p, int pc) {
      g.kernel(xb + s * sliver_bytes, wp + p * pb, t.kc, group, bias, y + s * mr * m + t.r0 + p * nr, m, sr, pc,
               t.c0 > 0);
    });
  });
}

}  // namespace

QMatMulKernels FindQMatMulKernels(DType type, CpuLevel level) {
  if (FindQTypeInfo(type) == nullptr) return {};
  // The highest level's row wins whole: its gemv comes with the activation
  // layout it expects, and only the VNNI level has packers (the integer GEMM).
  QMatMulKernels found = ScalarQMatMulKernels(type);
  if (level >= CpuLevel::kAvx2) {
    const QMatMulKernels v = Avx2QMatMulKernels(type);
    if (v.gemv) found = v;
  }
  if (level >= CpuLevel::kAvx512 && DetectedCpuFeatures().avx512vnni) {
    const QMatMulKernels v = Avx512QMatMulKernels(type);
    if (v.gemv) found = v;
  }
  return found;
}

QGemmKernel GetQGemmKernel(CpuLevel level) {
  if (level >= CpuLevel::kAvx512 && DetectedCpuFeatures().avx512vnni) return Avx512QGemmKernel();
  return {};
}

void QuantizedGemvMany(const QMatMulKernels* kernels, const WeightRef* w, const int64_t* m, float* const* y, int count,
                       const float* x, int64_t n, ThreadPool& pool) {
  LEANLM_CHECK(count > 0 && n >= 1 && n <= kQGemvMaxRows);
  int64_t total = 0;
  for (int i = 0; i < count; ++i) {
    LEANLM_CHECK(w[i].k == w[0].k);
    LEANLM_CHECK(kernels[i].act_shift == kernels[0].act_shift);
    LEANLM_CHECK(kernels[i].act_interleaved == kernels[0].act_interleaved);
    LEANLM_CHECK(m[i] % 16 == 0 || i + 1 == count);  // chunks stay multiples of 16 rows within each weight
    total += m[i];
  }
  const int64_t k = w[0].k;
  const QuantizedActs xq = QuantizedActsIn(pool.Scratch(pool.size(), Align64(QuantizedActsBytes(n, k))), n, k,
                                           kernels[0].act_shift, kernels[0].act_interleaved);
  QuantizeActivations(x, xq, pool);
  // Rows of the weights one after another; a chunk may span two.
  ForEachGemvChunk(pool, total, w[0].row_bytes, [&](int64_t r0, int64_t r1) {
    int64_t first = 0;
    for (int i = 0; i < count && r0 < r1; first += m[i], ++i) {
      if (r0 >= first + m[i]) continue;
      const int64_t end = std::min(r1, first + m[i]);
      kernels[i].gemv(w[i], xq, y[i], m[i], r0 - first, end - first);
      r0 = end;
    }
  });
}

void QuantizedMatMul(const QMatMulKernels& kernels, CpuLevel level, const WeightRef& w, const float* x, int64_t n,
                     float* y, int64_t m, ThreadPool& pool) {
  const int64_t k = w.k;
  const size_t act_bytes = Align64(QuantizedActsBytes(n, k));
  if (n <= kernels.gemv_max_rows) {
    const QuantizedActs xq = QuantizedActsIn(pool.Scratch(pool.size(), act_bytes), n, k, kernels.act_shift, kernels.act_interleaved);
    QuantizeActivations(x, xq, pool);
    QGemvChunks(kernels.gemv, w, xq, y, m, pool);
    return;
  }
  const QGemmKernel g = GetQGemmKernel(level);
  LEANLM_CHECK(g.kernel != nullptr && kernels.pack != nullptr);
  const QTypeInfo& info = *FindQTypeInfo(w.type);
  const int mr = g.mr;
  const int64_t slivers = (n + mr - 1) / mr;
  const int64_t k_blocks = (k + kQKc - 1) / kQKc;
  const size_t sliver_stride = QSliverBytes(kQKc, mr, info.group);
  auto* buf = static_cast<uint8_t*>(
      pool.Scratch(pool.size(), act_bytes + static_cast<size_t>(k_blocks * slivers) * sliver_stride));
  const QuantizedActs xq = QuantizedActsIn(buf, n, k);
  uint8_t* xp = buf + act_bytes;
  QuantizeActivations(x, xq, pool);
  pool.ParallelFor(slivers, 4, [&](int64_t s0, int64_t s1) {
    for (int64_t c0 = 0; c0 < k; c0 += kQKc) {
      const int64_t kc = std::min(kQKc, k - c0);
      for (int64_t s = s0; s < s1; ++s) {
        const int rows = static_cast<int>(std::min<int64_t>(mr, n - s * mr));
        QPackX(xq, s * mr, rows, c0, kc, mr, info.group,
               xp + static_cast<size_t>(c0 / kQKc * slivers) * sliver_stride + s * QSliverBytes(kc, mr, info.group));
      }
    }
  });
  QGemm(kernels.pack, g, info.group, info.has_bias, w, xq, xp, y, m, pool);
}

}  // namespace leanlm
