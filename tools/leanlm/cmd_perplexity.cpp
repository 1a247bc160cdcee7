// leanlm perplexity: llama.cpp's chunked convention, or whole documents; and
// llama.cpp's --kl-divergence-base (write the base logits) / --kl-divergence (compare).
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "eval/compare.h"
#include "eval/compare_report.h"
#include "eval/perplexity.h"

namespace leanlm::cli {
namespace {

// --kl-divergence: the model against a base-logits file, which holds the
// tokens and n_ctx (a text or --ctx given too is only checked for notes).
int KlDivergence(const ModelFlags& model_flags, const std::string& kl_base, int64_t ctx_given, bool file_given,
                 bool json) {
  if (file_given) std::fprintf(stderr, "note: scoring the tokens stored in %s\n", kl_base.c_str());
  auto model = Model::Load(model_flags.model_path, model_flags.options());
  if (!model.ok()) return Fail("perplexity", model.status());
  ThreadPool pool(model_flags.n_threads());
  auto r = CompareWithKlDivergenceBase(**model, pool, kl_base);
  if (!r.ok()) return Fail("perplexity", r.status());
  if (ctx_given && ctx_given != r->n_ctx) {
    std::fprintf(stderr, "note: %s was written with --ctx %lld, which was used\n", kl_base.c_str(),
                 static_cast<long long>(r->n_ctx));
  }
  std::fputs((json ? CompareReportJson(*r) : CompareReportText(*r)).c_str(), stdout);
  return 0;
}

}  // namespace

int PerplexityCommand(int argc, char** argv) {
  ModelFlags model_flags;
  std::string text, file, separator, kl_base;
  int64_t ctx = 512;
  bool json = false, kl_divergence = false;
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
  args.AddString("--kl-divergence-base", &kl_base,
                 "llama.cpp's base-logits file: written with the perplexity (chunks only), or read with "
                 "--kl-divergence",
                 "FILE");
  args.AddFlag("--kl-divergence", &kl_divergence,
               "compare the model with the base-logits file (its tokens and n_ctx; no text needed)");
  if (int rc = ParseOrExit(args, argc, argv); rc >= 0) return rc;

  const bool text_given = args.was_set("--prompt");
  if (!kl_base.empty() && (text_given || args.was_set("--docs"))) {
    return Fail("perplexity", Status::Error("--kl-divergence-base stores llama.cpp's chunks: give -f FILE, not "
                                            "-p or --docs"));
  }
  if (kl_divergence) {
    if (kl_base.empty()) return Fail("perplexity", Status::Error("--kl-divergence needs --kl-divergence-base FILE"));
    return KlDivergence(model_flags, kl_base, args.was_set("--ctx") ? ctx : 0, !file.empty(), json);
  }
  auto input = ReadTextArgument(text, file, text_given);
  if (!input.ok()) return Fail("perplexity", input.status());
  auto model = Model::Load(model_flags.model_path, model_flags.options());
  if (!model.ok()) return Fail("perplexity", model.status());
  ThreadPool pool(model_flags.n_threads());

  PerplexityOptions options;
  options.n_ctx = ctx;
  options.documents = text_given || args.was_set("--docs");
  options.separator = separator;
  auto r = kl_base.empty() ? ComputePerplexity(**model, pool, *input, options)
                           : WriteKlDivergenceBase(**model, pool, *input, ctx, kl_base);
  if (!r.ok()) return Fail("perplexity", r.status());
  if (!kl_base.empty()) std::fprintf(stderr, "wrote %s\n", kl_base.c_str());
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
