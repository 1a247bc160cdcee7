// Backward of the linear layer y = x · Wᵀ on MatMul's F32 GEMM microkernels
// (ops/matmul_kernels.h). The microkernel computes C (rows × cols) += Xp · Wp
// from a packed sliver Xp (depth × mr) and a panel Wp (depth × nr); both
// products here are fed to it by packing their operands in that form:
//   dx (n × k) = dy (n × m) · W (m × k): slivers of dy, panels of W's rows,
//     converted to F32 tile by tile from any weight type;
//   dW (m × k) += dyᵀ (m × n) · x (n × k): slivers of dy's columns, panels of x.
#include <algorithm>
#include <atomic>
#include <cstring>

#include "ops/matmul_kernels.h"
#include "ops/parallel.h"
#include "train/backward.h"

namespace leanlm {
namespace {

// dx: depth blocks of W rows (shared packing of dy per block) and, inside a
// block, tasks over tiles of dx columns. kTileCols is a multiple of every
// block size (they divide 256) and of every nr, so a tile's columns are whole
// blocks of a weight row.
constexpr int64_t kInputDepth = 256;
constexpr int64_t kTileCols = 256;
// dW: tiles of kWeightRows × kWeightCols, depth blocks of kWeightDepth tokens.
constexpr int64_t kWeightRows = 128;
constexpr int64_t kWeightCols = 128;
constexpr int64_t kWeightDepth = 256;

size_t Floats(int64_t count) { return static_cast<size_t>(count) * sizeof(float); }

// Converts rows [r0, r0 + depth) × columns [c0, c0 + cols) of W to F32
// panels: wp[(p · depth + j) · nr + l] = W[r0 + j][c0 + p·nr + l], zero past
// cols. row: (cols) scratch.
void PackWeightRows(const TensorView& w, const TypeTraits& t, int64_t r0, int64_t depth, int64_t c0, int64_t cols,
                    int nr, float* row, float* wp) {
  const size_t offset = static_cast<size_t>(c0 / t.block_size) * t.type_size;
  const int64_t panels = (cols + nr - 1) / nr;
  for (int64_t j = 0; j < depth; ++j) {
    t.to_float(w.row(r0 + j) + offset, row, cols);
    for (int64_t p = 0; p < panels; ++p) {
      const int64_t width = std::min<int64_t>(nr, cols - p * nr);
      float* dst = wp + (p * depth + j) * nr;
      std::memcpy(dst, row + p * nr, Floats(width));
      std::fill(dst + width, dst + nr, 0.0f);
    }
  }
}

}  // namespace

void LinearBackwardInput(float* dx, const float* dy, const TensorView& w, int64_t n, bool accumulate,
                         ThreadPool& pool) {
  const int64_t k = w.cols(), m = w.rows();
  if (n <= 0 || k <= 0) return;
  if (m == 0) {
    if (!accumulate) std::fill(dx, dx + n * k, 0.0f);
    return;
  }
  const TypeTraits& t = GetTypeTraits(w.type);
  LEANLM_CHECK(t.to_float != nullptr && kTileCols % t.block_size == 0 && k % t.block_size == 0);
  const GemmKernel& g = GetGemmKernel(ActiveCpuLevel());
  const int mr = g.mr, nr = g.nr;
  const int64_t slivers = (n + mr - 1) / mr;
  const int64_t col_tiles = (k + kTileCols - 1) / kTileCols;
  // Split the rows of dx too when there are too few column tiles to keep
  // every thread busy (each row group converts its own copy of the tile).
  const int64_t row_groups = std::clamp<int64_t>((2 * pool.size() + col_tiles - 1) / col_tiles, 1, slivers);
  const int64_t slivers_per_group = (slivers + row_groups - 1) / row_groups;
  const int64_t items = col_tiles * row_groups;
  auto* xp = static_cast<float*>(pool.Scratch(pool.size(), Floats(slivers * mr * kInputDepth)));
  for (int64_t r0 = 0; r0 < m; r0 += kInputDepth) {
    const int64_t depth = std::min(kInputDepth, m - r0);
    ParallelFor(pool, slivers, 8, [&](int64_t s0, int64_t s1) {
      for (int64_t s = s0; s < s1; ++s) {
        const int rows = static_cast<int>(std::min<int64_t>(mr, n - s * mr));
        g.pack_x(dy + s * mr * m + r0, m, rows, depth, mr, xp + s * depth * mr);
      }
    });
    const bool add = accumulate || r0 > 0;
    std::atomic<int64_t> next{0};
    RunTasks(pool, static_cast<int>(std::min<int64_t>(pool.size(), items)), [&](int task) {
      float* wp = static_cast<float*>(pool.Scratch(task, Floats(kInputDepth * kTileCols + kTileCols)));
      float* row = wp + kInputDepth * kTileCols;
      for (;;) {
        const int64_t item = next.fetch_add(1, std::memory_order_relaxed);
        if (item >= items) break;
        const int64_t c0 = item / row_groups * kTileCols;
        const int64_t cols = std::min(kTileCols, k - c0);
        const int64_t s_begin = item % row_groups * slivers_per_group;
        const int64_t s_end = std::min(slivers, s_begin + slivers_per_group);
        if (s_begin >= s_end) continue;
        PackWeightRows(w, t, r0, depth, c0, cols, nr, row, wp);
        const int64_t panels = (cols + nr - 1) / nr;
        for (int64_t s = s_begin; s < s_end; ++s) {
          const int rows = static_cast<int>(std::min<int64_t>(mr, n - s * mr));
          for (int64_t p = 0; p < panels; ++p) {
            const int pc = static_cast<int>(std::min<int64_t>(nr, cols - p * nr));
            g.kernel(xp + s * depth * mr, wp + p * depth * nr, depth, dx + s * mr * k + c0 + p * nr, k, rows, pc, add);
          }
        }
      }
    });
  }
}

void LinearBackwardWeight(float* dw, const float* dy, const float* x, int64_t n, int64_t k, int64_t m,
                          ThreadPool& pool) {
  if (n <= 0 || k <= 0 || m <= 0) return;
  const GemmKernel& g = GetGemmKernel(ActiveCpuLevel());
  const int mr = g.mr, nr = g.nr;
  const int64_t row_tiles = (m + kWeightRows - 1) / kWeightRows;
  const int64_t col_tiles = (k + kWeightCols - 1) / kWeightCols;
  const int64_t max_slivers = (kWeightRows + mr - 1) / mr;
  const int64_t max_panels = (kWeightCols + nr - 1) / nr;
  const int64_t items = row_tiles * col_tiles;
  std::atomic<int64_t> next{0};
  RunTasks(pool, static_cast<int>(std::min<int64_t>(pool.size(), items)), [&](int task) {
    float* xp = static_cast<float*>(pool.Scratch(task, Floats(kWeightDepth * (max_slivers * mr + max_panels * nr))));
    float* wp = xp + kWeightDepth * max_slivers * mr;
    for (;;) {
      const int64_t item = next.fetch_add(1, std::memory_order_relaxed);
      if (item >= items) break;
      const int64_t r0 = item / col_tiles * kWeightRows, c0 = item % col_tiles * kWeightCols;
      const int64_t rows = std::min(kWeightRows, m - r0), cols = std::min(kWeightCols, k - c0);
      const int64_t slivers = (rows + mr - 1) / mr, panels = (cols + nr - 1) / nr;
      for (int64_t t0 = 0; t0 < n; t0 += kWeightDepth) {
        const int64_t depth = std::min(kWeightDepth, n - t0);
        // Sliver s of dyᵀ: xp[(s · depth + j) · mr + i] = dy[t0 + j][r0 + s·mr + i].
        for (int64_t s = 0; s < slivers; ++s) {
          const int64_t width = std::min<int64_t>(mr, rows - s * mr);
          for (int64_t j = 0; j < depth; ++j) {
            float* dst = xp + (s * depth + j) * mr;
            std::memcpy(dst, dy + (t0 + j) * m + r0 + s * mr, Floats(width));
            std::fill(dst + width, dst + mr, 0.0f);
          }
        }
        // Panel p of x: wp[(p · depth + j) · nr + l] = x[t0 + j][c0 + p·nr + l].
        for (int64_t p = 0; p < panels; ++p) {
          const int64_t width = std::min<int64_t>(nr, cols - p * nr);
          for (int64_t j = 0; j < depth; ++j) {
            float* dst = wp + (p * depth + j) * nr;
            std::memcpy(dst, x + (t0 + j) * k + c0 + p * nr, Floats(width));
            std::fill(dst + width, dst + nr, 0.0f);
          }
        }
        for (int64_t s = 0; s < slivers; ++s) {
          const int sr = static_cast<int>(std::min<int64_t>(mr, rows - s * mr));
          for (int64_t p = 0; p < panels; ++p) {
            const int pc = static_cast<int>(std::min<int64_t>(nr, cols - p * nr));
            g.kernel(xp + s * depth * mr, wp + p * depth * nr, depth, dw + (r0 + s * mr) * k + c0 + p * nr, k, sr, pc,
                     true);
          }
        }
      }
    }
  });
}

}  // namespace leanlm
