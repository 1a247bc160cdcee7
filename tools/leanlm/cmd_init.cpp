// leanlm init: a model with random weights and real shapes.
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "runtime/init_model.h"

namespace leanlm::cli {

int InitCommand(int argc, char** argv) {
  std::string preset_name, out, type_name = "f16";
  int64_t seed = 0;
  bool list = false;
  ArgParser args("init", "Writes a GGUF model with random weights and the shapes of a preset.");
  args.AddString("--preset", &preset_name, "shape preset (see --list)", "NAME");
  args.AddString("-o,--output", &out, "output GGUF file", "OUT.gguf");
  args.AddString("--type", &type_name, "type of the weight matrices: f32, f16, bf16 (default f16)", "TYPE");
  args.AddInt("--seed", &seed, "random seed", 0, INT64_MAX);
  args.AddFlag("--list", &list, "list the presets");
  if (int rc = ParseOrExit(args, argc, argv); rc >= 0) return rc;

  if (list) {
    for (const auto& p : ModelPresets()) std::printf("%-16s %s\n", p.name.c_str(), p.description.c_str());
    return 0;
  }
  if (preset_name.empty() || out.empty()) return Fail("init", Status::Error("give --preset NAME and -o OUT.gguf"));
  auto preset = FindModelPreset(preset_name);
  if (!preset.ok()) return Fail("init", preset.status());
  auto type = ParseTypeName(type_name);
  if (!type.ok()) return Fail("init", type.status());
  InitOptions options;
  options.type = *type;
  options.seed = static_cast<uint64_t>(seed);
  if (Status st = WriteRandomModel(preset->config, options, out); !st.ok()) return Fail("init", st);
  std::fprintf(stderr, "wrote %s (preset %s, %s)\n", out.c_str(), preset_name.c_str(), type_name.c_str());
  return 0;
}

}  // namespace leanlm::cli
