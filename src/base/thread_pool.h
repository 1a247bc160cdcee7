// A small fork-join pool for the hot loops of inference and training.
// A decode step runs ~200 parallel regions, so forking must cost well under a
// microsecond: idle workers spin on a shared word for a while, then yield
// the core (the machines are shared: a spinning thread must not starve a
// compiler or its own sibling), then sleep on a futex so an idle process
// burns no CPU. ParallelFor hands its chunks to whichever thread is free, so
// a worker that the OS has descheduled delays nobody: the caller runs the
// chunks itself.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace leanlm {

class ThreadPool {
 public:
  // n_threads counts the calling thread; 0 means hardware concurrency.
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(thread_index) once on each of size() threads (index 0 on the
  // caller) and waits for all; the calls run concurrently, so fn may
  // synchronise between indices.
  void RunOnAll(const std::function<void(int thread_index)>& fn);

  // Splits [0, n) into contiguous chunks of at least `grain` items, at most
  // one per thread, and runs fn(begin, end) on each; waits for all. A chunk
  // may run on any thread (never two at once), so fn must not wait for
  // another chunk.
  void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t begin, int64_t end)>& fn);

  // Runs fn(task) for each task in [0, n_tasks), n_tasks ≤ size(), each on
  // whichever thread claims it first; waits for all. Tasks never run twice or
  // concurrently with themselves, so task t may use Scratch(t).
  void RunTasks(int n_tasks, const std::function<void(int task)>& fn);

  // A 64-byte aligned buffer of at least `bytes`, owned by the pool and reused
  // across calls, so hot loops neither allocate nor page-fault (a fault costs
  // ~12 µs). Slot t < size() belongs to thread (or RunTasks task) t inside a
  // parallel region; slot size() to the calling thread (e.g. for data it
  // shares with the workers). Contents survive until the slot's next call.
  void* Scratch(int slot, size_t bytes);

 private:
  struct FreeDeleter {
    void operator()(void* p) const;
  };
  struct ScratchBuffer {
    std::unique_ptr<void, FreeDeleter> data;
    size_t bytes = 0;
  };

  // Publishes a job of n_tasks; with `claim` any thread takes the next task,
  // otherwise worker i runs task i. Returns after all tasks finished.
  void Run(int n_tasks, bool claim, const std::function<void(int)>& fn);
  // Claims and runs tasks of generation `gen` until none is left.
  void RunClaimedTasks(uint32_t gen);
  void WorkerLoop(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  // The current job: written by the caller before it publishes a new
  // generation in state_, read by workers after they see it.
  const std::function<void(int)>* fn_ = nullptr;
  // Generation, whether tasks are claimed, task count and next unclaimed task.
  std::atomic<uint64_t> state_{0};
  std::atomic<int> done_{0};        // tasks of the current job finished
  std::atomic<uint32_t> wake_{0};   // futex word for sleeping workers
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::vector<ScratchBuffer> scratch_;  // size() + 1 slots
};

}  // namespace leanlm
