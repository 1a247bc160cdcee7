// Feeds arbitrary bytes to the safetensors parser; every accepted tensor's
// bytes are read end to end so AddressSanitizer sees any view past the input.
#include <cstddef>
#include <cstdint>

#include "base/log.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  leanlm::SetLogLevel(leanlm::LogLevel::kError);
  auto file = leanlm::ParseSafetensors(data, size, "fuzz.safetensors");
  if (!file.ok()) return 0;
  volatile uint8_t sink = 0;
  for (const leanlm::SafetensorsTensor& t : file->tensors()) {
    for (size_t i = 0; i < t.bytes; ++i) sink = sink ^ t.data[i];
    auto view = t.View(file->source());
    if (view.ok()) sink = sink ^ static_cast<uint8_t>(view->bytes() == t.bytes);
  }
  return 0;
}
