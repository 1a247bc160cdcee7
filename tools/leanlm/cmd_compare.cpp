// leanlm compare: how far a model is from a base model on a text (KL
// divergence, perplexity ratio, top-token agreement), as llama.cpp's
// llama-perplexity --kl-divergence reports it, with both models run side by side.
#include <algorithm>
#include <cstdio>
#include <thread>

#include "commands.h"
#include "common.h"
#include "eval/compare.h"
#include "eval/compare_report.h"

namespace leanlm::cli {

int CompareCommand(int argc, char** argv) {
  std::string base_path, model_path, text, file, separator, tokenizer;
  int64_t ctx = 512, threads = 0;
  bool json = false, no_mmap = false, no_pack = false;
  std::vector<std::string> adapters;
  ArgParser args("compare",
                 "Compares MODEL with BASE on a text: KL divergence of MODEL from BASE, perplexities and their ratio, "
                 "change of the token probability, agreement of the most likely token. Default: llama.cpp's "
                 "convention (chunks of --ctx tokens, the second half of each scored). --docs SEP: split at SEP, "
                 "score each stripped document from BOS. Both models must share the vocabulary.");
  args.AddPositional("BASE", &base_path, "the reference model (GGUF, Hugging Face directory, llama2.c .bin)");
  args.AddPositional("MODEL", &model_path, "the model compared with it (e.g. a quantized copy)");
  args.AddString("-p,--prompt", &text, "text to score (one document)", "TEXT");
  args.AddString("-f,--file", &file, "file to score", "FILE");
  args.AddInt("-c,--ctx", &ctx, "context length", 2, int64_t{1} << 24);
  args.AddString("--docs", &separator, "split the text into documents at SEP", "SEP");
  args.AddFlag("--json", &json, "print the result as JSON");
  args.AddString("--tokenizer", &tokenizer, "tokenizer for both models (llama2.c tokenizer.bin, tokenizer.json, GGUF)",
                 "PATH");
  args.AddInt("-t,--threads", &threads, "threads (default: all cores)", 0, 1024);
  args.AddFlag("--no-mmap", &no_mmap, "load weights into memory instead of mapping the files");
  RegisterPackFlag(args, &no_pack);
  RegisterAdapterFlag(args, &adapters);  // applied to MODEL: compare a base with base + adapter
  if (int rc = ParseOrExit(args, argc, argv); rc >= 0) return rc;

  const bool text_given = args.was_set("--prompt");
  auto input = ReadTextArgument(text, file, text_given);
  if (!input.ok()) return Fail("compare", input.status());
  ModelOptions model_options;
  model_options.tokenizer_path = tokenizer;
  model_options.load_into_memory = no_mmap;
  model_options.pack_weights = !no_pack;
  auto base = Model::Load(base_path, model_options);
  if (!base.ok()) return Fail("compare", base.status());
  model_options.adapters = adapters;
  auto model = Model::Load(model_path, model_options);
  if (!model.ok()) return Fail("compare", model.status());
  ThreadPool pool(threads > 0 ? static_cast<int>(threads)
                              : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));

  CompareOptions options;
  options.n_ctx = ctx;
  options.documents = text_given || args.was_set("--docs");
  options.separator = separator;
  auto r = CompareModels(**base, **model, pool, *input, options);
  if (!r.ok()) return Fail("compare", r.status());
  std::fputs((json ? CompareReportJson(*r) : CompareReportText(*r)).c_str(), stdout);
  return 0;
}

}  // namespace leanlm::cli
