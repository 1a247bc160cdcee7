// leanlm perplexity: llama.cpp's chunked convention, or whole documents.
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "eval/perplexity.h"

namespace leanlm::cli {

int PerplexityCommand(int argc, char** argv) {
  ModelFlags model_flags;
  std::string text, file, separator;
  int64_t ctx = 512;
  bool json = false;
  ArgParser args("perplexity",
                 "Perplexity on a text. Default: llama.cpp's convention (chunks of --ctx tokens, the second half of "
                 "each scored). --docs SEP: split at SEP, score each stripped document from BOS. -p TEXT is one "
                 "document.");
  model_flags.Register(args);
  args.AddString("-p,--prompt", &text, "text to score (one document)", "TEXT");
  args.AddString("-f,--file", &file, "file to score", "FILE");
  args.AddInt("-c,--ctx", &ctx, "context length", 2, int64_t{1} << 24);
  args.AddString("--docs", &separator, "split the text into documents at SEP", "SEP");
  args.AddFlag("--json", &json, "print the result as JSON");
  if (int rc = ParseOrExit(args, argc, argv); rc >= 0) return rc;

  const bool text_given = args.was_set("--prompt");
  auto input = ReadTextArgument(text, file, text_given);
  if (!input.ok()) return Fail("perplexity", input.status());
  auto model = Model::Load(model_flags.model_path, model_flags.options());
  if (!model.ok()) return Fail("perplexity", model.status());
  ThreadPool pool(model_flags.n_threads());

  PerplexityOptions options;
  options.n_ctx = ctx;
  options.documents = text_given || args.was_set("--docs");
  options.separator = separator;
  auto r = ComputePerplexity(**model, pool, *input, options);
  if (!r.ok()) return Fail("perplexity", r.status());
  const char* mode = options.documents ? "documents" : "chunks";
  if (json) {
    std::printf(
        "{\"mode\": \"%s\", \"n_ctx\": %lld, \"sequences\": %lld, \"predicted_tokens\": %lld, \"truncated\": %lld, "
        "\"total_nll\": %.9g, \"mean_nll\": %.9g, \"mean_nll_stderr\": %.9g, \"ppl\": %.9g, \"ppl_stderr\": %.9g}\n",
        mode, static_cast<long long>(ctx), static_cast<long long>(r->n_sequences),
        static_cast<long long>(r->n_predicted), static_cast<long long>(r->n_truncated), r->total_nll, r->mean_nll,
        r->nll_stderr, r->ppl, r->ppl_stderr);
  } else {
    std::printf("%s: %lld, predicted tokens: %lld%s\n", mode, static_cast<long long>(r->n_sequences),
                static_cast<long long>(r->n_predicted),
                r->n_truncated ? (", truncated to the context: " + std::to_string(r->n_truncated)).c_str() : "");
    std::printf("total NLL: %.6f  mean NLL: %.6f +/- %.6f\n", r->total_nll, r->mean_nll, r->nll_stderr);
    std::printf("PPL = %.4f +/- %.4f\n", r->ppl, r->ppl_stderr);
  }
  return 0;
}

}  // namespace leanlm::cli
