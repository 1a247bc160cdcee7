// leanlm merge: LoRA/DoRA adapters merged into a model's weights (in F32,
// then stored in the weight's own type or --type), written as GGUF or as a
// Hugging Face directory.
#include <cstdio>
#include <optional>

#include "commands.h"
#include "common.h"
#include "io/convert.h"
#include "io/hf_dir.h"
#include "peft/adapter_io.h"
#include "peft/merge.h"

namespace leanlm::cli {

int MergeCommand(int argc, char** argv) {
  std::string base_path, adapter_arg, out_path, type_name, tokenizer;
  std::vector<std::string> more;
  ArgParser args("merge",
                 "Merges LoRA/DoRA adapters into BASE and writes OUT: a .gguf path gets a GGUF, anything else a "
                 "Hugging Face directory. Merged tensors are computed in F32 and stored in their own type (or --type); "
                 "the other tensors are copied.");
  args.AddPositional("BASE", &base_path, "the base model (GGUF, Hugging Face directory, llama2.c .bin)");
  args.AddPositional("ADAPTER", &adapter_arg, "PEFT directory or GGUF LoRA, FILE[:SCALE]");
  args.AddPositional("OUT", &out_path, "output: NAME.gguf or a directory");
  args.AddStrings("--adapter", &more, "a further adapter merged after ADAPTER (repeatable)", "FILE[:SCALE]");
  args.AddString("--type", &type_name, "type of the merged tensors (f32, f16, bf16, q8_0, ...)", "T");
  args.AddString("--tokenizer", &tokenizer, "tokenizer for a base without one (llama2.c)", "PATH");
  if (int rc = ParseOrExit(args, argc, argv); rc >= 0) return rc;

  std::optional<DType> type;
  if (!type_name.empty()) {
    auto t = ParseTypeName(type_name);
    if (!t.ok()) return Fail("merge", t.status());
    type = *t;
  }
  LoadOptions load;
  load.tokenizer_path = tokenizer;
  auto source = LoadModelSource(base_path, load);
  if (!source.ok()) return Fail("merge", source.status());
  std::vector<Adapter> adapters;
  more.insert(more.begin(), adapter_arg);
  for (const std::string& arg : more) {
    auto spec = ParseAdapterSpec(arg);
    if (!spec.ok()) return Fail("merge", spec.status());
    auto adapter = LoadAdapter(*spec, source->config);
    if (!adapter.ok()) return Fail("merge", adapter.status());
    adapters.push_back(std::move(adapter).value());
  }
  std::vector<const Adapter*> raw;
  for (const Adapter& a : adapters) raw.push_back(&a);
  auto merged = MergeAdapters(source->config, source->tensors, raw, type, source->keep_alive);
  if (!merged.ok()) return Fail("merge", merged.status());
  source->tensors = std::move(merged).value();
  const bool gguf = out_path.size() > 5 && out_path.compare(out_path.size() - 5, 5, ".gguf") == 0;
  const Status st = gguf ? SaveGguf(*source, out_path) : SaveHfDir(*source, out_path);
  if (!st.ok()) return Fail("merge", st);
  std::fprintf(stderr, "merged %zu adapter(s) into %s -> %s\n", adapters.size(), base_path.c_str(), out_path.c_str());
  return 0;
}

}  // namespace leanlm::cli
