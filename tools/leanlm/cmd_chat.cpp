// leanlm chat: an interactive conversation using the model's chat template.
// Each turn feeds only the new text to the session, so the KV cache of the
// conversation so far is reused.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "commands.h"
#include "common.h"
#include "runtime/session.h"
#include "tokenizer/chat_template.h"

namespace leanlm::cli {

int ChatCommand(int argc, char** argv) {
  ModelFlags model_flags;
  SamplingFlags sampling;
  std::string template_name, system_prompt;
  int64_t n_predict = 512, ctx = 0;
  ArgParser args("chat",
                 "Talks with a model: one user message per line on stdin, replies streamed to stdout. The chat "
                 "template comes from the model (or --template); an empty line or end of input ends the chat.");
  model_flags.Register(args);
  sampling.Register(args);
  args.AddString("--template", &template_name, "chat template name (chatml, llama2, llama3, mistral-v7, phi3, gemma, "
                                               "zephyr, ...) instead of the model's", "NAME");
  args.AddString("--system", &system_prompt, "system message", "TEXT");
  args.AddInt("-n,--n-predict", &n_predict, "most tokens per reply", 1, int64_t{1} << 40);
  args.AddInt("-c,--ctx", &ctx, "context length (default: the model's)", 0, int64_t{1} << 24);
  if (int rc = ParseOrExit(args, argc, argv); rc >= 0) return rc;

  auto model = Model::Load(model_flags.model_path, model_flags.options());
  if (!model.ok()) return Fail("chat", model.status());
  const Tokenizer& tok = (*model)->tokenizer();
  const std::string source = template_name.empty() ? tok.vocab().chat_template : template_name;
  const ChatTemplateKind kind = DetectChatTemplate(source);
  if (kind == ChatTemplateKind::kUnknown) {
    if (!template_name.empty()) return Fail("chat", Status::Error("unknown chat template '" + template_name + "'"));
    std::fprintf(stderr, "warning: %s; using plain 'role: content' lines\n",
                 source.empty() ? "the model has no chat template" : "the model's chat template is not recognised");
  } else {
    std::fprintf(stderr, "chat template: %s\n", std::string(ChatTemplateName(kind)).c_str());
  }
  ThreadPool pool(model_flags.n_threads());
  Session session(**model, pool, ctx);
  GenerateOptions options;
  options.n_predict = n_predict;
  options.sampler = sampling.params();

  std::vector<ChatMessage> history;
  if (!system_prompt.empty()) history.push_back({"system", system_prompt});
  const bool interactive = isatty(STDIN_FILENO);
  std::string line;
  for (;;) {
    if (interactive) std::fputs("\n> ", stderr);
    if (!std::getline(std::cin, line) || line.empty()) break;
    ChatMessage user{"user", line};
    // The first turn formats the whole conversation (with the system message);
    // later turns only the text that follows what the model has already seen.
    const bool first = session.position() == 0;
    const std::string text = first ? "" : FormatChatIncrement(kind, history, user, true);
    history.push_back(user);
    const std::string prompt = first ? FormatChat(kind, history, true) : text;
    const std::vector<int32_t> ids = tok.Encode(prompt, /*add_special=*/first, /*parse_special=*/true);
    if (session.position() + static_cast<int64_t>(ids.size()) >= session.n_ctx()) {
      return Fail("chat", Status::Error("the conversation no longer fits the context of " +
                                        std::to_string(session.n_ctx()) + " tokens"));
    }
    if (Status st = session.Feed(ids); !st.ok()) return Fail("chat", st);
    std::string reply;
    auto stats = session.Generate(options, [&](std::string_view piece) {
      reply.append(piece);
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    });
    if (!stats.ok()) return Fail("chat", stats.status());
    std::fputs("\n", stdout);
    std::fflush(stdout);
    history.push_back({"assistant", reply});
    if (interactive) {
      std::fprintf(stderr, "[%lld tokens, %.1f tokens/s]", static_cast<long long>(stats->n_generated),
                   stats->generate_tokens_per_second());
    }
  }
  return 0;
}

}  // namespace leanlm::cli
