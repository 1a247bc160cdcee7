#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <vector>

namespace leanlm {
namespace {

TEST(ThreadPoolTest, RunOnAllRunsEachIndexOnce) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int round = 0; round < 1000; ++round) {
      std::vector<std::atomic<int>> seen(threads);
      pool.RunOnAll([&](int t) { seen[t].fetch_add(1); });
      for (int t = 0; t < threads; ++t) ASSERT_EQ(seen[t].load(), 1) << "round " << round;
    }
  }
}

TEST(ThreadPoolTest, ParallelForCoversRangeExactlyOnce) {
  ThreadPool pool(2);
  for (int64_t n : {0, 1, 2, 7, 1000}) {
    for (int64_t grain : {1, 3, 5000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      pool.ParallelFor(n, grain, [&](int64_t begin, int64_t end) {
        EXPECT_LT(begin, end);
        for (int64_t i = begin; i < end; ++i) hits[i].fetch_add(1);
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " grain=" << grain;
    }
  }
}

TEST(ThreadPoolTest, RunTasksRunsEachTaskOnce) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int tasks = 0; tasks <= threads; ++tasks) {
      for (int round = 0; round < 200; ++round) {
        std::vector<std::atomic<int>> seen(tasks);
        pool.RunTasks(tasks, [&](int t) { seen[t].fetch_add(1); });
        for (int t = 0; t < tasks; ++t) ASSERT_EQ(seen[t].load(), 1) << threads << " threads, task " << t;
      }
    }
  }
}

// Alternating job kinds exercises workers that wake late for a claimed job.
TEST(ThreadPoolTest, MixedJobsStayConsistent) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  for (int round = 0; round < 2000; ++round) {
    pool.RunOnAll([&](int t) { total.fetch_add(t + 1); });
    pool.ParallelFor(10, 1, [&](int64_t b, int64_t e) { total.fetch_add(e - b); });
  }
  EXPECT_EQ(total.load(), 2000 * (3 + 10));
}

TEST(ThreadPoolTest, ScratchIsAlignedPerSlotAndReused) {
  ThreadPool pool(2);
  void* a = pool.Scratch(0, 1000);
  void* b = pool.Scratch(1, 1000);
  void* shared = pool.Scratch(2, 10);
  EXPECT_NE(a, b);
  EXPECT_NE(a, shared);
  for (void* p : {a, b, shared}) EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  EXPECT_EQ(pool.Scratch(0, 500), a);  // smaller request: same buffer
  static_cast<char*>(pool.Scratch(0, 1 << 20))[(1 << 20) - 1] = 1;  // grows, usable to the end
  pool.RunOnAll([&](int t) { static_cast<char*>(pool.Scratch(t, 4096))[4095] = static_cast<char>(t); });
}

}  // namespace
}  // namespace leanlm
