#include "eval/bench.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>

#include "base/huge_buffer.h"

namespace leanlm {
namespace {

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

double SpeedSamples::median() const { return Median(tokens_per_second); }
double SpeedSamples::min() const {
  return tokens_per_second.empty() ? 0 : *std::min_element(tokens_per_second.begin(), tokens_per_second.end());
}
double SpeedSamples::max() const {
  return tokens_per_second.empty() ? 0 : *std::max_element(tokens_per_second.begin(), tokens_per_second.end());
}

Result<BenchResult> BenchmarkModel(Model& model, ThreadPool& pool, const BenchOptions& options) {
  const ModelConfig& config = model.config();
  const int64_t n_ctx = std::max<int64_t>(options.n_prompt, options.n_generate) + 1;
  KvCache cache(config, n_ctx);
  std::vector<float> logits(config.n_vocab);
  std::mt19937_64 rng(options.seed);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(config.n_vocab - 1));
  BenchResult result;

  const ModelWeights& w = model.llama().weights();
  result.weight_bytes_per_token = static_cast<double>(w.output.bytes() + w.output_norm.bytes());
  for (const auto& l : w.layers) {
    for (const TensorView* t : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wo, &l.bq, &l.bk, &l.bv, &l.ffn_norm,
                                &l.ffn_gate, &l.ffn_up, &l.ffn_down}) {
      if (t->valid()) result.weight_bytes_per_token += static_cast<double>(t->bytes());
    }
  }

  // Repetition 0 warms caches and page tables and is not counted.
  for (int rep = 0; rep <= options.repetitions; ++rep) {
    if (options.n_prompt > 0) {
      std::vector<int32_t> prompt(static_cast<size_t>(options.n_prompt));
      for (auto& t : prompt) t = token(rng);
      const auto start = std::chrono::steady_clock::now();
      LEANLM_RETURN_IF_ERROR(
          model.llama().Forward(prompt.data(), options.n_prompt, 0, cache, logits.data(), false, pool));
      const double s = Seconds(start, std::chrono::steady_clock::now());
      if (rep > 0) result.prompt.tokens_per_second.push_back(options.n_prompt / s);
    }
    if (options.n_generate > 0) {
      int32_t t = token(rng);
      const auto start = std::chrono::steady_clock::now();
      for (int64_t i = 0; i < options.n_generate; ++i) {
        LEANLM_RETURN_IF_ERROR(model.llama().Forward(&t, 1, i, cache, logits.data(), false, pool));
        t = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      }
      const double s = Seconds(start, std::chrono::steady_clock::now());
      if (rep > 0) result.generate.tokens_per_second.push_back(options.n_generate / s);
    }
  }
  return result;
}

double MeasureReadBandwidth(ThreadPool& pool, size_t bytes, int repetitions) {
  const size_t n = bytes / sizeof(uint64_t);
  auto buffer = HugeBuffer::Allocate(n * sizeof(uint64_t));  // pages like weights loaded with --no-mmap
  if (!buffer.ok()) return 0;
  auto* data = reinterpret_cast<uint64_t*>(buffer->data());
  pool.ParallelFor(static_cast<int64_t>(n), 1 << 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) data[i] = static_cast<uint64_t>(i);
  });
  std::vector<double> rates;
  std::vector<uint64_t> sinks(static_cast<size_t>(pool.size()) * 8);  // one cache line per thread
  for (int rep = 0; rep <= repetitions; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    pool.RunOnAll([&](int t) {
      const size_t begin = n * t / pool.size(), end = n * (t + 1) / pool.size();
      uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (size_t i = begin; i + 4 <= end; i += 4) {
        a0 ^= data[i];
        a1 ^= data[i + 1];
        a2 ^= data[i + 2];
        a3 ^= data[i + 3];
      }
      sinks[static_cast<size_t>(t) * 8] = a0 ^ a1 ^ a2 ^ a3;
    });
    const double s = Seconds(start, std::chrono::steady_clock::now());
    if (rep > 0) rates.push_back(static_cast<double>(n * sizeof(uint64_t)) / s);
  }
  return Median(rates);
}

}  // namespace leanlm
