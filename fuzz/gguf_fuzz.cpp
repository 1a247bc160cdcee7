// libFuzzer target for the GGUF reader: parses arbitrary bytes, then reads
// every metadata value and every byte of every tensor view, so AddressSanitizer
// catches a view that points outside the input. A parsed file also goes
// through ConfigFromGguf, which consults metadata and tensors.
#include <cstddef>
#include <cstdint>

#include "io/gguf.h"
#include "io/gguf_model.h"

namespace {

uint64_t TouchValue(const leanlm::GgufValue& v) {
  uint64_t h = v.u ^ static_cast<uint64_t>(v.i) ^ v.str.size();
  for (unsigned char c : v.str) h = h * 31 + c;
  for (const auto& e : v.array) h += TouchValue(e);
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parsed = leanlm::GgufFile::Parse(data, size, "fuzz.gguf");
  if (!parsed.ok()) return 0;
  const leanlm::GgufFile& g = **parsed;
  volatile uint64_t sink = 0;
  for (const auto& [key, value] : g.metadata()) sink = sink + key.size() + TouchValue(value);
  for (const auto& t : g.tensors()) {
    const auto* p = static_cast<const uint8_t*>(t.view.data);
    uint64_t h = 0;
    for (size_t i = 0; i < t.view.bytes(); ++i) h += p[i];
    sink = sink + h;
  }
  auto config = leanlm::ConfigFromGguf(g);
  if (config.ok()) sink = sink + static_cast<uint64_t>(config->n_embd);
  return 0;
}
