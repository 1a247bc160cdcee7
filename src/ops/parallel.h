// ThreadPool takes std::function, which copies a lambda that captures more
// than two references to the heap on every call. These wrappers hand it one
// reference instead, so the ops allocate nothing per call (decode runs
// hundreds of parallel regions per token).
#pragma once

#include <cstdint>

#include "base/thread_pool.h"

namespace leanlm {

template <typename Fn>
void ParallelFor(ThreadPool& pool, int64_t n, int64_t grain, const Fn& fn) {
  pool.ParallelFor(n, grain, [&fn](int64_t begin, int64_t end) { fn(begin, end); });
}

template <typename Fn>
void RunTasks(ThreadPool& pool, int n_tasks, const Fn& fn) {
  pool.RunTasks(n_tasks, [&fn](int task) { fn(task); });
}

}  // namespace leanlm
