#include "common.h"

#include <cstdio>
#include <random>
#include <thread>

#include "base/mmap_file.h"

namespace leanlm::cli {

int Fail(const std::string& command, const Status& status) {
  std::fflush(stdout);
  std::fprintf(stderr, "leanlm %s: error: %s\n", command.c_str(), status.message().c_str());
  return 1;
}

void ModelFlags::Register(ArgParser& args) {
  args.AddString("-m,--model", &model_path, "model: GGUF file, Hugging Face directory, or llama2.c .bin", "PATH");
  args.AddString("--tokenizer", &tokenizer_path, "tokenizer file (llama2.c tokenizer.bin, tokenizer.json, GGUF)",
                 "PATH");
  args.AddInt("-t,--threads", &threads, "threads (default: all cores)", 0, 1024);
  args.AddFlag("--no-mmap", &no_mmap, "load weights into memory instead of mapping the file");
  RegisterPackFlag(args, &no_pack);
  RegisterAdapterFlag(args, &adapters);
  args.Require("--model");
}

void RegisterPackFlag(ArgParser& args, bool* no_pack) {
  args.AddFlag("--no-pack", no_pack,
               "keep the file's weight layout (default: Q4_0, Q8_0 and Q2_K-Q6_K weights are re-laid in memory, 16 "
               "rows interleaved, for the AVX-512 VNNI decode kernels)");
}

void RegisterAdapterFlag(ArgParser& args, std::vector<std::string>* adapters) {
  args.AddStrings("--adapter", adapters,
                  "apply an adapter unmerged: a PEFT directory (LoRA, DoRA, prompt or prefix tuning) or a llama.cpp "
                  "GGUF LoRA, with an optional LoRA scale (default 1); repeatable",
                  "FILE[:SCALE]");
}

ModelOptions ModelFlags::options() const {
  ModelOptions o;
  o.tokenizer_path = tokenizer_path;
  o.load_into_memory = no_mmap;
  o.pack_weights = !no_pack;
  o.adapters = adapters;
  return o;
}

int ModelFlags::n_threads() const {
  return threads > 0 ? static_cast<int>(threads) : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void SamplingFlags::Register(ArgParser& args) {
  args.AddFloat("--temp", &temp, "temperature (0: greedy)", 0, 100);
  args.AddInt("--top-k", &top_k, "keep the k most likely tokens (0: off)", 0, int64_t{1} << 31);
  args.AddFloat("--top-p", &top_p, "nucleus sampling threshold (1: off)", 0, 1);
  args.AddFloat("--min-p", &min_p, "drop tokens below min-p x the top probability (0: off)", 0, 1);
  args.AddFloat("--repeat-penalty", &repeat_penalty, "penalty for repeated tokens (1: off)", 0, 100);
  args.AddFloat("--presence-penalty", &presence, "subtracted from the logit of tokens already seen", -100, 100);
  args.AddFloat("--frequency-penalty", &frequency, "subtracted per occurrence of a seen token", -100, 100);
  args.AddInt("--repeat-last-n", &last_n, "how many recent tokens the penalties look at", 0, int64_t{1} << 31);
  args.AddInt("--seed", &seed, "random seed (default: random, printed)", -1, INT64_MAX);
}

SamplerParams SamplingFlags::params() const {
  SamplerParams p;
  p.temperature = static_cast<float>(temp);
  p.top_k = static_cast<int32_t>(top_k);
  p.top_p = static_cast<float>(top_p);
  p.min_p = static_cast<float>(min_p);
  p.repeat_penalty = static_cast<float>(repeat_penalty);
  p.presence_penalty = static_cast<float>(presence);
  p.frequency_penalty = static_cast<float>(frequency);
  p.penalty_last_n = static_cast<int32_t>(last_n);
  p.seed = seed >= 0 ? static_cast<uint64_t>(seed) : std::random_device{}();
  if (seed < 0 && temp > 0) std::fprintf(stderr, "seed: %llu\n", static_cast<unsigned long long>(p.seed));
  return p;
}

Result<std::string> ReadTextArgument(const std::string& text, const std::string& file, bool text_given) {
  if (text_given && !file.empty()) return Status::Error("give either -p TEXT or -f FILE, not both");
  if (!file.empty()) return ReadTextFile(file);
  if (!text_given) return Status::Error("give -p TEXT or -f FILE");
  return text;
}

int ParseOrExit(ArgParser& args, int argc, char** argv) {
  const Status st = args.Parse(argc, argv);
  if (!st.ok()) {
    std::fprintf(stderr, "leanlm: error: %s\n", st.message().c_str());
    return 2;
  }
  if (args.help_requested()) {
    std::fputs(args.Usage().c_str(), stdout);
    return 0;
  }
  return -1;
}

}  // namespace leanlm::cli
