// Feeds arbitrary text to the config.json parser; an accepted config is
// written back and must read back (ConfigToHfJson checks the round trip).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "base/log.h"
#include "io/hf_dir.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  leanlm::SetLogLevel(leanlm::LogLevel::kError);
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto config = leanlm::ConfigFromHfJson(text, "fuzz/config.json");
  if (!config.ok()) return 0;
  // Everything ConfigFromHfJson accepts must be expressible again.
  if (!leanlm::ConfigToHfJson(config.value()).ok()) std::abort();
  return 0;
}
