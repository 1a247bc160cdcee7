// leanlm: run, quantize, fine-tune and evaluate LLaMA-family models on CPUs.
#include <cstdio>
#include <cstring>

#include "commands.h"

namespace {

struct Subcommand {
  const char* name;
  const char* summary;
  int (*run)(int, char**);
};

constexpr Subcommand kSubcommands[] = {
    {"run", "generate text from a prompt", leanlm::cli::RunCommand},
    {"chat", "talk with a model using its chat template", leanlm::cli::ChatCommand},
    {"perplexity", "perplexity of a model on a text", leanlm::cli::PerplexityCommand},
    {"compare", "KL divergence and agreement of a model with a base model", leanlm::cli::CompareCommand},
    {"tokenize", "turn text into token ids", leanlm::cli::TokenizeCommand},
    {"info", "metadata, tensors and size of a model file", leanlm::cli::InfoCommand},
    {"init", "write a model with random weights and real shapes", leanlm::cli::InitCommand},
    {"convert", "convert between GGUF, Hugging Face and llama2.c", leanlm::cli::ConvertCommand},
    {"quantize", "quantize a model with llama.cpp's recipes (Q4_K_M, Q8_0, ...)", leanlm::cli::QuantizeCommand},
    {"finetune", "fine-tune with LoRA, QLoRA, DoRA, adapters, prompt/prefix tuning or fully",
     leanlm::cli::FinetuneCommand},
    {"merge", "merge LoRA/DoRA adapters into a model's weights", leanlm::cli::MergeCommand},
    {"bench", "prompt and generation speed against the memory-bandwidth bound", leanlm::cli::BenchCommand},
};

void PrintUsage(FILE* out) {
  std::fputs("usage: leanlm <command> [options]   (leanlm <command> --help for its options)\n\ncommands:\n", out);
  for (const auto& c : kSubcommands) std::fprintf(out, "  %-11s %s\n", c.name, c.summary);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
    PrintUsage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  for (const auto& c : kSubcommands) {
    if (!std::strcmp(argv[1], c.name)) return c.run(argc, argv);
  }
  std::fprintf(stderr, "leanlm: unknown command '%s'\n\n", argv[1]);
  PrintUsage(stderr);
  return 2;
}
