// The outer loops of the blocked GEMM (Goto/BLIS style) that the F32 path
// (matmul.cpp) and the integer path (qmatmul.cpp) share: threads claim tiles
// of mc weight rows; for each depth block of kc columns the caller packs the
// tile into panels of nr rows (kept in L2) and runs its microkernel over every
// activation sliver of mr rows and every panel.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "base/thread_pool.h"
#include "ops/parallel.h"

namespace leanlm {

struct GemmTile {
  int thread = 0;    // the pool slot running it (for Scratch)
  int64_t mc = 0;    // rows of every tile: the panel buffer to size
  int64_t r0 = 0;    // first weight row
  int64_t rows = 0;  // ≤ mc
  int64_t c0 = 0;    // first column of the depth block
  int64_t kc = 0;    // its width
};

// Calls fn(tile) for every tile of rows [0, m) and depth block of [0, k) (all
// depth blocks of a tile in order, on one thread). Tiles are at most max_mc
// rows, a multiple of nr, narrower for small m so that every thread has work.
template <typename Fn>
void ForEachGemmTile(ThreadPool& pool, int64_t m, int64_t k, int nr, int64_t max_mc, int64_t max_kc, const Fn& fn) {
  const int64_t threads = pool.size();
  int64_t mc = std::min<int64_t>(max_mc, (m + 2 * threads - 1) / (2 * threads));
  mc = std::max<int64_t>(nr, (mc + nr - 1) / nr * nr);
  const int64_t tiles = (m + mc - 1) / mc;
  std::atomic<int64_t> next{0};
  auto run = [&](int t) {
    for (;;) {
      const int64_t tile = next.fetch_add(1, std::memory_order_relaxed);
      if (tile >= tiles) break;
      const int64_t r0 = tile * mc;
      const int64_t rows = std::min(mc, m - r0);
      for (int64_t c0 = 0; c0 < k; c0 += max_kc) fn(GemmTile{t, mc, r0, rows, c0, std::min(max_kc, k - c0)});
    }
  };
  if (threads == 1 || tiles == 1) {
    run(0);
  } else {
    RunTasks(pool, pool.size(), run);
  }
}

// Calls fn(s, sliver_rows, p, panel_cols) for each of the ceil(n / mr)
// activation slivers and ceil(rows / nr) weight panels of a tile.
template <typename Fn>
void ForEachSliverPanel(int64_t n, int mr, int64_t rows, int nr, const Fn& fn) {
  for (int64_t s = 0; s * mr < n; ++s) {
    const int sr = static_cast<int>(std::min<int64_t>(mr, n - s * mr));
    for (int64_t p = 0; p * nr < rows; ++p) fn(s, sr, p, static_cast<int>(std::min<int64_t>(nr, rows - p * nr)));
  }
}

}  // namespace leanlm
