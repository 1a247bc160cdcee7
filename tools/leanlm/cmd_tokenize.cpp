// leanlm tokenize: token ids of a text on one line.
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "io/model_source.h"

namespace leanlm::cli {

int TokenizeCommand(int argc, char** argv) {
  std::string path, text, file;
  bool no_bos = false, parse_special = false;
  ArgParser args("tokenize", "Prints the token ids of a text on one line.");
  args.AddString("-m,--model", &path, "GGUF (vocab-only is fine), tokenizer.json, HF directory, or llama2.c tokenizer",
                 "PATH");
  args.AddString("-p,--prompt", &text, "text to tokenize", "TEXT");
  args.AddString("-f,--file", &file, "read the text from a file", "FILE");
  args.AddFlag("--no-bos", &no_bos, "do not add BOS/EOS");
  args.AddFlag("--parse-special", &parse_special, "turn special-token text into special tokens");
  args.Require("--model");
  if (int rc = ParseOrExit(args, argc, argv); rc >= 0) return rc;

  auto input = ReadTextArgument(text, file, args.was_set("--prompt"));
  if (!input.ok()) return Fail("tokenize", input.status());
  auto vocab = LoadVocab(path);
  if (!vocab.ok()) return Fail("tokenize", vocab.status());
  auto tokenizer = Tokenizer::Create(std::move(*vocab));
  if (!tokenizer.ok()) return Fail("tokenize", tokenizer.status());
  const std::vector<int32_t> ids = (*tokenizer)->Encode(*input, !no_bos, parse_special);
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) line += ' ';
    line += std::to_string(ids[i]);
  }
  std::printf("%s\n", line.c_str());
  return 0;
}

}  // namespace leanlm::cli
