#include "base/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "base/status.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define LEANLM_PAUSE() _mm_pause()
#else
#define LEANLM_PAUSE() ((void)0)
#endif

namespace leanlm {
namespace {

using Clock = std::chrono::steady_clock;
// Idle policy. A pause costs ~50 ns on Zen 5, sched_yield ~1 µs, a futex
// wake-up 5–50 µs. Decode regions come microseconds apart, so workers spin
// through such gaps, yield through longer ones (sampling, I/O) and sleep
// only when the process is really idle.
constexpr auto kSpinTime = std::chrono::microseconds(100);
constexpr auto kYieldTime = std::chrono::milliseconds(2);
constexpr int kPausesPerClockRead = 16;

// state_: generation (32 bits) | claim (1) | task count (15) | next task (16).
constexpr uint32_t Generation(uint64_t s) { return static_cast<uint32_t>(s >> 32); }
constexpr bool Claim(uint64_t s) { return (s >> 31) & 1; }
constexpr int TaskCount(uint64_t s) { return static_cast<int>((s >> 16) & 0x7fff); }
constexpr int NextTask(uint64_t s) { return static_cast<int>(s & 0xffff); }
constexpr uint64_t MakeState(uint32_t gen, bool claim, int tasks, int next) {
  return (uint64_t{gen} << 32) | (uint64_t{claim} << 31) | (static_cast<uint64_t>(tasks) << 16) |
         static_cast<uint64_t>(next);
}

// Waits until done() holds: spins first, then yields the core.
template <typename Done>
void SpinThenYield(Done done) {
  const auto spin_until = Clock::now() + kSpinTime;
  for (;;) {
    for (int i = 0; i < kPausesPerClockRead; ++i) {
      if (done()) return;
      LEANLM_PAUSE();
    }
    if (Clock::now() > spin_until) break;
  }
  while (!done()) sched_yield();
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  LEANLM_CHECK(n_threads <= 0x7fff);
  n_threads_ = n_threads;
  scratch_.resize(static_cast<size_t>(n_threads_) + 1);
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_seq_cst);
  state_.fetch_add(uint64_t{1} << 32, std::memory_order_seq_cst);
  wake_.fetch_add(1, std::memory_order_seq_cst);
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::RunClaimedTasks(uint32_t gen) {
  uint64_t s = state_.load(std::memory_order_acquire);
  for (;;) {
    if (Generation(s) != gen || NextTask(s) >= TaskCount(s)) return;
    if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    // The claimed task is unfinished, so the caller still waits and fn_ is ours.
    (*fn_)(NextTask(s));
    done_.fetch_add(1, std::memory_order_acq_rel);
    s = state_.load(std::memory_order_acquire);
  }
}

void ThreadPool::WorkerLoop(int index) {
  uint32_t seen = 0;
  for (;;) {
    const auto changed = [&] { return Generation(state_.load(std::memory_order_acquire)) != seen; };
    // Spin, then yield, then sleep until the next job.
    const auto start = Clock::now();
    bool ready = false;
    while (!ready) {
      for (int i = 0; i < kPausesPerClockRead && !(ready = changed()); ++i) LEANLM_PAUSE();
      if (ready) break;
      const auto idle = Clock::now() - start;
      if (idle < kSpinTime) continue;
      if (idle < kYieldTime) {
        sched_yield();
        continue;
      }
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      const uint32_t w = wake_.load(std::memory_order_seq_cst);
      if (!(ready = changed())) wake_.wait(w, std::memory_order_seq_cst);
      sleepers_.fetch_sub(1, std::memory_order_seq_cst);
      ready = changed();
    }
    if (stop_.load(std::memory_order_acquire)) return;
    const uint64_t s = state_.load(std::memory_order_acquire);
    seen = Generation(s);
    if (Claim(s)) {
      RunClaimedTasks(seen);
    } else if (index < TaskCount(s)) {
      (*fn_)(index);
      done_.fetch_add(1, std::memory_order_acq_rel);
    }
  }
}

void ThreadPool::Run(int n_tasks, bool claim, const std::function<void(int)>& fn) {
  fn_ = &fn;
  done_.store(0, std::memory_order_relaxed);
  const uint32_t gen = Generation(state_.load(std::memory_order_relaxed)) + 1;
  state_.store(MakeState(gen, claim, n_tasks, 0), std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    wake_.fetch_add(1, std::memory_order_seq_cst);
    wake_.notify_all();
  }
  if (claim) {
    RunClaimedTasks(gen);
  } else {
    fn(0);
    done_.fetch_add(1, std::memory_order_acq_rel);
  }
  SpinThenYield([&] { return done_.load(std::memory_order_acquire) == n_tasks; });
}

void ThreadPool::RunOnAll(const std::function<void(int)>& fn) {
  if (n_threads_ == 1) {
    fn(0);
    return;
  }
  Run(n_threads_, /*claim=*/false, fn);
}

void ThreadPool::RunTasks(int n_tasks, const std::function<void(int)>& fn) {
  LEANLM_CHECK(n_tasks >= 0 && n_tasks <= n_threads_);
  if (n_tasks <= 1) {
    if (n_tasks == 1) fn(0);
    return;
  }
  Run(n_tasks, /*claim=*/true, fn);
}

void ThreadPool::ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t chunks = std::min<int64_t>(n_threads_, (n + grain - 1) / grain);
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  // One captured pointer keeps the std::function in its small buffer: no
  // heap allocation per parallel region.
  const auto body = [&](int t) {
    const int64_t begin = n * t / chunks;
    const int64_t end = n * (t + 1) / chunks;
    if (begin < end) fn(begin, end);
  };
  RunTasks(static_cast<int>(chunks), [&body](int t) { body(t); });
}

void ThreadPool::FreeDeleter::operator()(void* p) const { std::free(p); }

void* ThreadPool::Scratch(int slot, size_t bytes) {
  LEANLM_CHECK(slot >= 0 && slot <= n_threads_);
  ScratchBuffer& buf = scratch_[static_cast<size_t>(slot)];
  if (bytes > buf.bytes) {
    // Grow geometrically so a slowly rising size does not reallocate each call.
    const size_t want = std::max(bytes, buf.bytes + buf.bytes / 2);
    const size_t rounded = (want + 63) / 64 * 64;
    buf.data.reset();  // release first: the old contents are not kept
    buf.data.reset(std::aligned_alloc(64, rounded));
    LEANLM_CHECK(buf.data != nullptr);
    buf.bytes = rounded;
  }
  return buf.data.get();
}

}  // namespace leanlm
