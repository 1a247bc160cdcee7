// leanlm convert: GGUF <-> Hugging Face directory, and from llama2.c; with
// --base, adapters: PEFT directory <-> llama.cpp GGUF LoRA.
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "io/convert.h"
#include "io/model_source.h"
#include "peft/adapter_io.h"
#include "peft/gguf_lora.h"
#include "peft/peft_format.h"

namespace leanlm::cli {
namespace {

// The base's config says which Q/K row order the adapter's B rows follow.
Status ConvertAdapter(const std::string& in, const std::string& out, const std::string& base) {
  LEANLM_ASSIGN_OR_RETURN(const ModelSource source, LoadModelSource(base));
  LEANLM_ASSIGN_OR_RETURN(const AdapterSpec spec, ParseAdapterSpec(in));
  LEANLM_ASSIGN_OR_RETURN(const Adapter adapter, LoadAdapter(spec, source.config));
  const bool gguf = out.size() >= 5 && out.compare(out.size() - 5, 5, ".gguf") == 0;
  return gguf ? SaveGgufLora(adapter, source.config, out) : SavePeftAdapter(adapter, source.config, out);
}

}  // namespace

int ConvertCommand(int argc, char** argv) {
  std::string in, out, tokenizer, base;
  ArgParser args("convert",
                 "Converts a model. OUT ending in .gguf writes GGUF (llama.cpp's names and Q/K layout); any other "
                 "OUT is a Hugging Face directory (config.json, model.safetensors, tokenizer.json).");
  args.AddPositional("IN", &in, "GGUF file, Hugging Face directory, or llama2.c .bin");
  args.AddPositional("OUT", &out, "OUT.gguf or a directory");
  args.AddString("--tokenizer", &tokenizer, "tokenizer for inputs without one (llama2.c tokenizer.bin)", "PATH");
  args.AddString("--base", &base,
                 "IN is an adapter (PEFT directory or GGUF LoRA) of this model: OUT.gguf gets llama.cpp's GGUF LoRA, "
                 "any other OUT a PEFT directory",
                 "MODEL");
  if (int rc = ParseOrExit(args, argc, argv); rc >= 0) return rc;
  if (!base.empty()) {
    if (Status st = ConvertAdapter(in, out, base); !st.ok()) return Fail("convert", st);
    std::fprintf(stderr, "wrote %s\n", out.c_str());
    return 0;
  }
  LoadOptions options;
  options.tokenizer_path = tokenizer;
  if (Status st = ConvertModel(in, out, options); !st.ok()) return Fail("convert", st);
  std::fprintf(stderr, "wrote %s\n", out.c_str());
  return 0;
}

}  // namespace leanlm::cli
