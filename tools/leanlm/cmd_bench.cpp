// leanlm bench: pp and tg tokens/s (median over repetitions), measured read
// bandwidth, and the roofline bound for tg.
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "eval/bench.h"

namespace leanlm::cli {

int BenchCommand(int argc, char** argv) {
  ModelFlags model_flags;
  int64_t n_prompt = 128, n_gen = 64, reps = 5;
  ArgParser args("bench", "Prompt-processing (pp) and generation (tg) speed, as llama-bench measures them, with the "
                          "memory-bandwidth roofline for tg.");
  model_flags.Register(args);
  args.AddInt("-p,--n-prompt", &n_prompt, "prompt tokens processed as one batch (0: skip pp)", 0, 1 << 20);
  args.AddInt("-n,--n-gen", &n_gen, "tokens generated one at a time (0: skip tg)", 0, 1 << 20);
  args.AddInt("-r,--repetitions", &reps, "repetitions (the median is reported)", 1, 1000);
  if (int rc = ParseOrExit(args, argc, argv); rc >= 0) return rc;

  ModelOptions options = model_flags.options();
  options.prefault = true;  // page faults must not land in the timed region
  auto model = Model::Load(model_flags.model_path, options);
  if (!model.ok()) return Fail("bench", model.status());
  ThreadPool pool(model_flags.n_threads());
  BenchOptions bench;
  bench.n_prompt = n_prompt;
  bench.n_generate = n_gen;
  bench.repetitions = static_cast<int>(reps);
  auto r = BenchmarkModel(**model, pool, bench);
  if (!r.ok()) return Fail("bench", r.status());
  const double bandwidth = MeasureReadBandwidth(pool);

  std::printf("| model | weights read/token | threads | test | t/s median | t/s range |\n");
  std::printf("|---|---:|---:|---|---:|---:|\n");
  auto row = [&](const char* test, int64_t n, const SpeedSamples& s) {
    std::printf("| %s | %.1f MiB | %d | %s%lld | %.2f | %.2f - %.2f |\n", model_flags.model_path.c_str(),
                r->weight_bytes_per_token / (1 << 20), pool.size(), test, static_cast<long long>(n), s.median(),
                s.min(), s.max());
  };
  if (n_prompt > 0) row("pp", n_prompt, r->prompt);
  if (n_gen > 0) row("tg", n_gen, r->generate);
  const double roofline = bandwidth / r->weight_bytes_per_token;
  std::printf("\nread bandwidth (measured, %d threads): %.1f GB/s -> tg roofline %.2f t/s", pool.size(),
              bandwidth / 1e9, roofline);
  if (n_gen > 0) std::printf("; tg reaches %.0f%% of it", 100.0 * r->generate.median() / roofline);
  std::printf("\nweights packed for decode: %.1f MiB of %.1f MiB read per token\n",
              static_cast<double>((*model)->llama().packed_bytes()) / (1 << 20), r->weight_bytes_per_token / (1 << 20));
  return 0;
}

}  // namespace leanlm::cli
