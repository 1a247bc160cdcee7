// leanlm run: prompt + generated text to stdout (streamed), speed to stderr.
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "runtime/session.h"

namespace leanlm::cli {

int RunCommand(int argc, char** argv) {
  ModelFlags model_flags;
  std::string prompt, prompt_file;
  SamplingFlags sampling;
  int64_t n_predict = 128, ctx = 0;
  bool parse_special = false;

  ArgParser args("run", "Generates text from a prompt; -n counts generated tokens, --temp 0 is greedy.");
  model_flags.Register(args);
  args.AddString("-p,--prompt", &prompt, "prompt text (default: empty, generation starts from BOS)", "TEXT");
  args.AddString("-f,--file", &prompt_file, "read the prompt from a file", "FILE");
  args.AddInt("-n,--n-predict", &n_predict, "tokens to generate (-1: until the end or a full context)", -1,
              int64_t{1} << 40);
  sampling.Register(args);
  args.AddInt("-c,--ctx", &ctx, "context length (default: the model's)", 0, int64_t{1} << 24);
  args.AddFlag("--parse-special", &parse_special, "turn special-token text in the prompt into special tokens");
  if (int rc = ParseOrExit(args, argc, argv); rc >= 0) return rc;

  if (!prompt_file.empty()) {
    auto text = ReadTextArgument(prompt, prompt_file, args.was_set("--prompt"));
    if (!text.ok()) return Fail("run", text.status());
    prompt = *text;
  }
  auto model = Model::Load(model_flags.model_path, model_flags.options());
  if (!model.ok()) return Fail("run", model.status());
  ThreadPool pool(model_flags.n_threads());

  GenerateOptions options;
  options.n_predict = n_predict;
  options.sampler = sampling.params();

  const Tokenizer& tok = (*model)->tokenizer();
  std::vector<int32_t> ids = tok.Encode(prompt, /*add_special=*/true, parse_special);
  if (ids.empty()) return Fail("run", Status::Error("the prompt encodes to no tokens and the vocabulary has no BOS"));
  Session session(**model, pool, ctx);
  if (static_cast<int64_t>(ids.size()) >= session.n_ctx()) {
    return Fail("run", Status::Error("the prompt has " + std::to_string(ids.size()) + " tokens; the context holds " +
                                     std::to_string(session.n_ctx())));
  }
  std::fputs(prompt.c_str(), stdout);
  std::fflush(stdout);
  if (Status st = session.Feed(ids); !st.ok()) return Fail("run", st);
  auto stats = session.Generate(options, [](std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  });
  if (!stats.ok()) return Fail("run", stats.status());
  std::fputs("\n", stdout);  // the text ends with a newline, as llama2.c's run prints it
  std::fflush(stdout);
  std::fprintf(stderr, "prompt: %lld tokens, %.2f tokens/s | generation: %lld tokens, %.2f tokens/s\n",
               static_cast<long long>(stats->n_prompt), stats->prompt_tokens_per_second(),
               static_cast<long long>(stats->n_generated), stats->generate_tokens_per_second());
  return 0;
}

}  // namespace leanlm::cli
