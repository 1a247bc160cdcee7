// Loading an adapter from whatever the user names: a PEFT directory or a
// llama.cpp GGUF LoRA, optionally with a scale ("FILE:SCALE").
#pragma once

#include <string>

#include "base/status.h"
#include "model/config.h"
#include "peft/adapter.h"

namespace leanlm {

struct AdapterSpec {
  std::string path;
  float scale = 1.0f;
};

// "FILE" or "FILE:SCALE" (the part after the last ':' when it parses as a
// finite number; otherwise the whole argument is the path).
Result<AdapterSpec> ParseAdapterSpec(const std::string& arg);

// A directory -> PEFT (LoadPeftAdapter); a GGUF file -> LoadGgufLora. The
// result is in the layout of, and validated against, `config`.
Result<Adapter> LoadAdapter(const AdapterSpec& spec, const ModelConfig& config);

}  // namespace leanlm
