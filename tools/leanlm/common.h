// Helpers shared by the subcommands: error reporting and common flags.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "args.h"
#include "base/status.h"
#include "runtime/model.h"
#include "sample/sampler.h"

namespace leanlm::cli {

// Prints "leanlm <command>: error: <message>" and returns the exit code 1.
int Fail(const std::string& command, const Status& status);

// Flags every model-running command shares: -m, --tokenizer, -t, --no-mmap, --no-pack, --adapter.
struct ModelFlags {
  std::string model_path;
  std::string tokenizer_path;
  std::vector<std::string> adapters;
  int64_t threads = 0;
  bool no_mmap = false;
  bool no_pack = false;

  void Register(ArgParser& args);
  ModelOptions options() const;
  int n_threads() const;  // 0 -> the machine's cores
};

// Registers --no-pack (ModelOptions::pack_weights off).
void RegisterPackFlag(ArgParser& args, bool* no_pack);

// Registers the repeatable --adapter FILE[:SCALE] option.
void RegisterAdapterFlag(ArgParser& args, std::vector<std::string>* adapters);

// Sampling flags shared by run and chat (llama.cpp's defaults).
struct SamplingFlags {
  int64_t top_k = 40, seed = -1, last_n = 64;
  double temp = 0.8, top_p = 0.95, min_p = 0.05, repeat_penalty = 1.0, presence = 0.0, frequency = 0.0;

  void Register(ArgParser& args);
  // The sampler parameters; a random seed (printed to stderr) when none was given.
  SamplerParams params() const;
};

// Reads a prompt from -p TEXT or -f FILE (exactly one).
Result<std::string> ReadTextArgument(const std::string& text, const std::string& file, bool text_given);

// Parses flags; prints usage for --help. Returns -1 to continue, else an exit code.
int ParseOrExit(ArgParser& args, int argc, char** argv);

}  // namespace leanlm::cli
