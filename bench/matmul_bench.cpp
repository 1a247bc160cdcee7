// MatMul micro-benchmarks: decode (n = 1, GB/s of weights read) and prompt
// processing (n = 512, GFLOP/s) per weight type (float and block-quantized), CPU level and thread count,
// next to the two physical bounds: a streaming read of memory (the decode
// roofline) and oneDNN's sgemm on F32 weights (a mature GEMM on the same
// cores). Decode cycles through enough weight copies to overflow the L3 so
// every byte comes from DRAM, as in a real model.
//
// Run: matmul_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <immintrin.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <random>
#include <vector>

#include "base/cpu_features.h"
#include "base/fp16.h"
#include "base/huge_buffer.h"
#include "base/thread_pool.h"
#include "ops/gemv_split.h"
#include "ops/matmul.h"
#include "ops/matmul_kernels.h"
#include "ops/packed_weights.h"

namespace leanlm {
namespace {

constexpr size_t kOverflowL3Bytes = size_t{512} << 20;  // well past any L3 here (32 MiB)

// Repetition aggregates: Google Benchmark reports mean, median and stddev;
// min and max give the range (the machines are shared and noisy).
benchmark::internal::Benchmark* WithRange(benchmark::internal::Benchmark* b) {
  return b->UseRealTime()
      ->ComputeStatistics("min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); })
      ->ComputeStatistics("max", [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); });
}

ThreadPool& Pool(int threads) {
  static ThreadPool one(1), two(2);
  return threads == 1 ? one : two;
}

// Bytes that have been written (so no page is a shared zero page), with
// values that are ordinary numbers in every float type, on the huge pages
// that weights loaded with --no-mmap get.
struct Buffer {
  HugeBuffer memory;
  uint8_t* bytes;
  size_t size;
  explicit Buffer(size_t n) : memory(HugeBuffer::Allocate(n).value()), bytes(memory.data()), size(n) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    auto* h = reinterpret_cast<uint16_t*>(bytes);
    for (size_t i = 0; i < n / 2; ++i) h[i] = Fp32ToFp16(dist(rng)) & 0x3fff;  // |v| < 2 in f16 and bf16 alike
  }
};

__attribute__((target("avx512f"))) uint64_t SumAvx512(const uint8_t* p, size_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 256 <= n; i += 256) {
    a0 = _mm512_add_epi64(a0, _mm512_loadu_si512(p + i));
    a1 = _mm512_add_epi64(a1, _mm512_loadu_si512(p + i + 64));
    a2 = _mm512_add_epi64(a2, _mm512_loadu_si512(p + i + 128));
    a3 = _mm512_add_epi64(a3, _mm512_loadu_si512(p + i + 192));
  }
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)));
  uint64_t sum = 0;
  for (uint64_t v : lanes) sum += v;
  return sum;
}
uint64_t SumPortable(const uint8_t* p, size_t n) {
  uint64_t a[8] = {};
  for (size_t i = 0; i + 64 <= n; i += 64) {
    for (int l = 0; l < 8; ++l) {
      uint64_t v;
      std::memcpy(&v, p + i + 8 * l, 8);
      a[l] += v;
    }
  }
  return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

// The decode roofline: every thread sums its share of a 512 MiB buffer.
void BM_ReadBandwidth(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  static Buffer buf(kOverflowL3Bytes);
  ThreadPool& pool = Pool(threads);
  const bool avx512 = DetectedCpuFeatures().avx512f;
  std::vector<uint64_t> sums(threads);
  for (auto _ : state) {
    pool.ParallelFor(threads, 1, [&](int64_t b, int64_t) {
      const size_t part = buf.size / threads;
      const uint8_t* p = buf.bytes + part * b;
      sums[b] = avx512 ? SumAvx512(p, part) : SumPortable(p, part);
    });
    benchmark::DoNotOptimize(sums.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * buf.size));
}
BENCHMARK(BM_ReadBandwidth)->ArgName("threads")->Arg(1)->Arg(2)->Apply([](auto* b) { WithRange(b); });

// The decode kernels' memory roofline: the same bytes per call as a
// 5632 × 2048 Q4_K weight (6.5 MiB; Args: threads, KiB per call), read
// through the gemv row split (ops/gemv_split.h) with no arithmetic, calls
// walking through a buffer larger than L3. Against BM_ReadBandwidth this
// shows what the split and the call boundaries cost.
void BM_ReadGemvSplit(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const size_t call = static_cast<size_t>(state.range(1)) << 10;
  constexpr size_t kRowBytes = 1152;  // a Q4_K row of 2048
  static Buffer buf(kOverflowL3Bytes);
  ThreadPool& pool = Pool(threads);
  const bool avx512 = DetectedCpuFeatures().avx512f;
  const size_t calls = buf.size / call;
  const auto rows = static_cast<int64_t>(call / kRowBytes);
  std::atomic<uint64_t> sum{0};
  size_t c = 0;
  for (auto _ : state) {
    const uint8_t* base = buf.bytes + c * call;
    ForEachGemvChunk(pool, rows, kRowBytes, [&](int64_t r0, int64_t r1) {
      const uint8_t* p = base + r0 * kRowBytes;
      const size_t n = static_cast<size_t>(r1 - r0) * kRowBytes;
      sum.fetch_add(avx512 ? SumAvx512(p, n) : SumPortable(p, n), std::memory_order_relaxed);
    });
    c = (c + 1) % calls;
  }
  benchmark::DoNotOptimize(sum.load());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * rows * kRowBytes));
}
BENCHMARK(BM_ReadGemvSplit)->ArgNames({"threads", "kib"})->Args({1, 6656})->Args({2, 6656})->Apply([](auto* b) {
  WithRange(b);
});

TensorView View(const uint8_t* data, DType type, int64_t k, int64_t m) {
  TensorView w;
  w.data = data;
  w.type = type;
  w.n_dims = 2;
  w.ne = {k, m, 1, 1};
  return w;
}

// Args: type id, CPU level, k, m, n (≤ 16: the decode kernels), threads.
void BM_Decode(benchmark::State& state) {
  const auto type = static_cast<DType>(state.range(0));
  const auto level = static_cast<CpuLevel>(state.range(1));
  const int64_t k = state.range(2), m = state.range(3), n = state.range(4);
  const int threads = static_cast<int>(state.range(5));
  if (!CpuLevelSupported(level)) return state.SkipWithError("CPU level not supported");
  const size_t bytes = RowBytes(type, k).value() * m;
  const size_t copies = (kOverflowL3Bytes + bytes - 1) / bytes;
  static Buffer buf(kOverflowL3Bytes + (size_t{256} << 20));
  LEANLM_CHECK(copies * bytes <= buf.size);
  std::vector<float> x(n * k, 0.5f), y(n * m);
  ThreadPool& pool = Pool(threads);
  size_t c = 0;
  for (auto _ : state) {
    MatMulAtLevel(level, View(buf.bytes + c * bytes, type, k, m), x.data(), n, y.data(), pool);
    c = (c + 1) % copies;
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * n * m * k * state.iterations() * 1e-9, benchmark::Counter::kIsRate);
  state.SetLabel(std::string(TypeName(type)) + " " + CpuLevelName(level));
}

// Packed weights (ops/packed_weights.h; the bytes need not come from
// PackWeight: speed does not depend on their values). Args: type id, k, m,
// threads, hot (1: one copy, cache-resident, for the kernel's compute bound).
void BM_DecodePacked(benchmark::State& state) {
  const auto type = static_cast<DType>(state.range(0));
  const int64_t k = state.range(1), m = state.range(2);
  const int threads = static_cast<int>(state.range(3));
  const bool hot = state.range(4) != 0;
  if (!CanPackWeight(View(nullptr, type, k, m))) return state.SkipWithError("no packed kernels here");
  const size_t bytes = RowBytes(type, k).value() * m;
  const size_t copies = hot ? 1 : (kOverflowL3Bytes + bytes - 1) / bytes;
  static Buffer buf(kOverflowL3Bytes + (size_t{256} << 20));
  LEANLM_CHECK(copies * bytes <= buf.size);
  std::vector<float> x(k, 0.5f), y(m);
  ThreadPool& pool = Pool(threads);
  size_t c = 0;
  for (auto _ : state) {
    PackedMatMul(PackedWeight{buf.bytes + c * bytes, type, m, k}, x.data(), 1, y.data(), pool);
    c = (c + 1) % copies;
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.SetLabel(std::string(TypeName(type)) + " packed" + (hot ? " hot" : ""));
}

// Args: type id, CPU level, k, m, n, threads.
void BM_Prompt(benchmark::State& state) {
  const auto type = static_cast<DType>(state.range(0));
  const auto level = static_cast<CpuLevel>(state.range(1));
  const int64_t k = state.range(2), m = state.range(3), n = state.range(4);
  const int threads = static_cast<int>(state.range(5));
  if (!CpuLevelSupported(level)) return state.SkipWithError("CPU level not supported");
  Buffer w(RowBytes(type, k).value() * m);
  std::vector<float> x(n * k, 0.5f), y(n * m);
  ThreadPool& pool = Pool(threads);
  for (auto _ : state) {
    MatMulAtLevel(level, View(w.bytes, type, k, m), x.data(), n, y.data(), pool);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * n * m * k * state.iterations() * 1e-9, benchmark::Counter::kIsRate);
  state.SetLabel(std::string(TypeName(type)) + " " + CpuLevelName(level));
}

// oneDNN sgemm (its own OpenMP threads, all cores) on the same shape with F32
// weights: y (n × m) = x (n × k) · Wᵀ.
void BM_PromptOneDnnSgemm(benchmark::State& state) {
  const int64_t k = state.range(0), m = state.range(1), n = state.range(2);
  std::vector<float> w(m * k, 0.25f), x(n * k, 0.5f), y(n * m);
  for (auto _ : state) {
    const dnnl_status_t st = dnnl_sgemm('N', 'T', n, m, k, 1.0f, x.data(), k, w.data(), k, 0.0f, y.data(), m);
    if (st != dnnl_success) return state.SkipWithError("dnnl_sgemm failed");
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * n * m * k * state.iterations() * 1e-9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PromptOneDnnSgemm)
    ->ArgNames({"k", "m", "n"})
    ->Args({2048, 5632, 512})
    ->Args({14336, 4096, 512})
    ->Apply([](auto* b) { WithRange(b); });

// Empty parallel regions: the fork/join cost paid ~200 times per decode step.
void BM_ForkJoin(benchmark::State& state) {
  ThreadPool& pool = Pool(static_cast<int>(state.range(0)));
  for (auto _ : state) pool.RunTasks(pool.size(), [](int) {});
}
BENCHMARK(BM_ForkJoin)->ArgName("threads")->Arg(1)->Arg(2)->Apply([](auto* b) { WithRange(b); });

void RegisterShapes() {
  const int64_t kTypes[] = {static_cast<int64_t>(DType::kF32), static_cast<int64_t>(DType::kF16),
                            static_cast<int64_t>(DType::kBF16)};
  const auto best = static_cast<int64_t>(DetectedCpuLevel());
  auto decode = [](int64_t type, int64_t level, int64_t k, int64_t m, int64_t n, int64_t threads) {
    WithRange(benchmark::RegisterBenchmark("BM_Decode", BM_Decode)
                  ->ArgNames({"type", "level", "k", "m", "n", "threads"})
                  ->Args({type, level, k, m, n, threads}));
  };
  auto prompt = [](int64_t type, int64_t level, int64_t k, int64_t m, int64_t n, int64_t threads) {
    WithRange(benchmark::RegisterBenchmark("BM_Prompt", BM_Prompt)
                  ->ArgNames({"type", "level", "k", "m", "n", "threads"})
                  ->Args({type, level, k, m, n, threads}));
  };
  // Every type, level and thread count on TinyLlama-1.1B's FFN up projection
  // and output layer (decode) and a 512-token prompt through the FFN.
  for (int64_t type : kTypes) {
    for (int64_t level = 0; level < kNumCpuLevels; ++level) {
      for (int64_t threads : {1, 2}) {
        decode(type, level, 2048, 5632, 1, threads);
        decode(type, level, 2048, 32000, 1, threads);
        if (level > 0 || threads == 2) prompt(type, level, 2048, 5632, level > 0 ? 512 : 64, threads);
      }
    }
  }
  // Block-quantized weights (the integer path: decode GB/s of weight bytes
  // against BM_ReadBandwidth, prompt GFLOP/s) at the best level, and decode at
  // the scalar level for the portable reference's speed.
  const int64_t kQuantTypes[] = {static_cast<int64_t>(DType::kQ8_0), static_cast<int64_t>(DType::kQ4_0),
                                 static_cast<int64_t>(DType::kQ4_K), static_cast<int64_t>(DType::kQ6_K),
                                 static_cast<int64_t>(DType::kQ5_K), static_cast<int64_t>(DType::kQ3_K),
                                 static_cast<int64_t>(DType::kQ2_K)};
  for (int64_t type : kQuantTypes) {
    for (int64_t threads : {1, 2}) {
      decode(type, best, 2048, 5632, 1, threads);
      decode(type, best, 5632, 2048, 1, threads);
      decode(type, best, 2048, 32000, 1, threads);
    }
    decode(type, 0, 2048, 5632, 1, 2);
    for (int64_t threads : {1, 2}) {
      for (int64_t hot : {0, 1}) {
        WithRange(benchmark::RegisterBenchmark("BM_DecodePacked", BM_DecodePacked)
                      ->ArgNames({"type", "k", "m", "threads", "hot"})
                      ->Args({type, 2048, hot ? 512 : 5632, threads, hot}));
      }
    }
    prompt(type, best, 2048, 5632, 128, 2);
    prompt(type, best, 2048, 5632, 512, 2);
  }
  // llama.cpp's test-backend-ops perf shape (MUL_MAT m=4096 k=14336: 4096
  // weight rows of 14336) at the best level and 2 threads, for the peer
  // comparison, with its batch sizes.
  for (int64_t type : kTypes) {
    for (int64_t n : {1, 2, 3, 4, 5, 8}) decode(type, best, 14336, 4096, n, 2);
    prompt(type, best, 14336, 4096, 512, 2);
  }
}
const bool kRegistered = (RegisterShapes(), true);

}  // namespace
}  // namespace leanlm
