#include "peft/adapter_io.h"

#include <sys/stat.h>

#include <charconv>
#include <cmath>

#include "peft/adapter_shapes.h"
#include "peft/gguf_lora.h"
#include "peft/peft_format.h"

namespace leanlm {

Result<AdapterSpec> ParseAdapterSpec(const std::string& arg) {
  AdapterSpec spec{arg, 1.0f};
  const size_t colon = arg.rfind(':');
  if (colon != std::string::npos && colon + 1 < arg.size()) {
    float scale = 0;
    const char* begin = arg.data() + colon + 1;
    const char* end = arg.data() + arg.size();
    const auto [ptr, ec] = std::from_chars(begin, end, scale);
    if (ec == std::errc() && ptr == end) {
      if (!std::isfinite(scale)) return Status::Error("adapter " + arg + ": the scale is not finite");
      spec.path = arg.substr(0, colon);
      spec.scale = scale;
    }
  }
  if (spec.path.empty()) return Status::Error("adapter '" + arg + "': no file named");
  return spec;
}

Result<Adapter> LoadAdapter(const AdapterSpec& spec, const ModelConfig& config) {
  struct stat sb;
  if (::stat(spec.path.c_str(), &sb) != 0) return Status::Error("adapter " + spec.path + ": no such file or directory");
  Result<Adapter> adapter = Status::Error("unreachable");
  if (S_ISDIR(sb.st_mode)) {
    adapter = LoadPeftAdapter(spec.path, config);
  } else if (LooksLikeGguf(spec.path)) {
    adapter = LoadGgufLora(spec.path, config);
  } else {
    return Status::Error("adapter " + spec.path + ": expected a PEFT directory (adapter_config.json, "
                         "adapter_model.safetensors) or a GGUF LoRA file");
  }
  if (!adapter.ok()) return adapter.status();
  adapter->scale = spec.scale;
  LEANLM_RETURN_IF_ERROR(ValidateAdapter(*adapter, config, spec.path));
  return adapter;
}

}  // namespace leanlm
