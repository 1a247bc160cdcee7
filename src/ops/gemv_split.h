// How the decode kernels (matrix-vector: every weight byte read once) share
// the rows of a weight among the pool's threads. Each thread owns a
// contiguous share and walks it front to back in chunks, so it streams
// through memory in address order and the hardware prefetchers stay ahead of
// it (chunks claimed from one shared counter send each thread jumping every
// 64 KiB, and two threads then read well below the memory bandwidth). A
// thread done with its share takes chunks from the front of the others', so a
// descheduled thread delays nobody.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/thread_pool.h"
#include "ops/parallel.h"

namespace leanlm {

// Calls fn(r0, r1) over rows [0, m) in chunks of a multiple of 16 rows (the
// kernels' row unrolling; m need not be one) of about 32 KiB of weights.
template <typename Fn>
void ForEachGemvChunk(ThreadPool& pool, int64_t m, size_t row_bytes, const Fn& fn) {
  constexpr int64_t kChunkBytes = 32 << 10;
  constexpr int kMaxShares = 64;
  const int shares = std::min(pool.size(), kMaxShares);
  const auto bytes = static_cast<int64_t>(std::max<size_t>(row_bytes, 1));
  const int64_t chunk = std::max<int64_t>(1, kChunkBytes / bytes / 16) * 16;
  if (shares == 1 || m <= 16) {
    fn(int64_t{0}, m);
    return;
  }
  struct alignas(64) Share {
    std::atomic<int64_t> next;
    int64_t end;
  };
  std::array<Share, kMaxShares> share;
  for (int s = 0; s < shares; ++s) {
    share[s].next.store((m * s / shares) / 16 * 16, std::memory_order_relaxed);
    share[s].end = s + 1 == shares ? m : (m * (s + 1) / shares) / 16 * 16;
  }
  RunTasks(pool, shares, [&](int task) {
    for (int i = 0; i < shares; ++i) {
      Share& s = share[(task + i) % shares];
      for (;;) {
        const int64_t r0 = s.next.fetch_add(chunk, std::memory_order_relaxed);
        if (r0 >= s.end) break;
        fn(r0, std::min(r0 + chunk, s.end));
      }
    }
  });
}

}  // namespace leanlm
