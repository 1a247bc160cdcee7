// leanlm quantize: llama.cpp's quantization recipes (llama-quantize).
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "quant/quantize_model.h"

namespace leanlm::cli {

int QuantizeCommand(int argc, char** argv) {
  std::string in, out, type, recipe, tokenizer;
  QuantizeOptions options;
  int64_t threads = 0;
  std::string names;
  for (const std::string& n : RecipeNames()) names += (names.empty() ? "" : ", ") + n;
  ArgParser args("quantize",
                 "Quantizes a model to a GGUF with llama.cpp's per-tensor choices (the same types as llama-quantize "
                 "for the same model). Types: " +
                     names + " (Q3_K, Q4_K, Q5_K mean their _M recipe).");
  args.AddPositional("IN", &in, "GGUF file (any type), Hugging Face directory, or llama2.c .bin");
  args.AddPositional("OUT", &out, "output GGUF file");
  args.AddPositional("TYPE", &type, "recipe or type name, case-insensitive (or give --recipe)", false);
  args.AddString("--recipe", &recipe, "recipe name, instead of TYPE", "NAME");
  args.AddStrings("--tensor-type", &options.tensor_types,
                  "tensors whose name the regex finds get TYPE (first match wins, after the recipe); repeatable",
                  "REGEX=TYPE");
  args.AddFlag("--keep-output", &options.keep_output, "leave output.weight as it is (--leave-output-tensor)");
  args.AddString("--tokenizer", &tokenizer, "tokenizer for inputs without one (llama2.c tokenizer.bin)", "PATH");
  args.AddInt("-t,--threads", &threads, "threads (default: all cores)", 0, 1024);
  if (int rc = ParseOrExit(args, argc, argv); rc >= 0) return rc;

  if (type.empty() && recipe.empty()) return Fail("quantize", Status::Error("give TYPE or --recipe NAME"));
  if (!type.empty() && !recipe.empty()) {
    return Fail("quantize",
                Status::Error("give either TYPE ('" + type + "') or --recipe ('" + recipe + "'), not both"));
  }
  options.recipe = type.empty() ? recipe : type;
  options.n_threads = static_cast<int>(threads);
  options.tokenizer_path = tokenizer;

  QuantizeReport report;
  if (Status st = QuantizeModel(in, out, options, &report); !st.ok()) return Fail("quantize", st);
  constexpr double kMiB = 1024.0 * 1024.0;
  std::fprintf(stderr, "wrote %s (%s): %.2f MiB -> %.2f MiB, %.2f bits per weight\n", out.c_str(),
               report.recipe.name.c_str(), report.bytes_in / kMiB, report.bytes_out / kMiB, report.bits_per_weight());
  return 0;
}

}  // namespace leanlm::cli
