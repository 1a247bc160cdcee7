// leanlm convert: GGUF <-> Hugging Face directory, and from llama2.c.
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "io/convert.h"

namespace leanlm::cli {

int ConvertCommand(int argc, char** argv) {
  std::string in, out, tokenizer;
  ArgParser args("convert",
                 "Converts a model. OUT ending in .gguf writes GGUF (llama.cpp's names and Q/K layout); any other "
                 "OUT is a Hugging Face directory (config.json, model.safetensors, tokenizer.json).");
  args.AddPositional("IN", &in, "GGUF file, Hugging Face directory, or llama2.c .bin");
  args.AddPositional("OUT", &out, "OUT.gguf or a directory");
  args.AddString("--tokenizer", &tokenizer, "tokenizer for inputs without one (llama2.c tokenizer.bin)", "PATH");
  if (int rc = ParseOrExit(args, argc, argv); rc >= 0) return rc;
  LoadOptions options;
  options.tokenizer_path = tokenizer;
  if (Status st = ConvertModel(in, out, options); !st.ok()) return Fail("convert", st);
  std::fprintf(stderr, "wrote %s\n", out.c_str());
  return 0;
}

}  // namespace leanlm::cli
