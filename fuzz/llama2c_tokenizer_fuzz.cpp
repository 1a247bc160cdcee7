// libFuzzer target for llama2.c's tokenizer.bin reader: arbitrary bytes; a
// vocabulary that loads must build a tokenizer that encodes and decodes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab_loaders.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto vocab = leanlm::VocabFromLlama2cTokenizerBytes(
      std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.bin");
  if (!vocab.ok()) return 0;
  auto tok = leanlm::Tokenizer::Create(std::move(vocab).value());
  if (!tok.ok()) std::abort();  // the loader validated it
  const auto ids = (*tok)->Encode("Once upon a time \xC3\xA9 \xF0\x9F\xA6\x99 <s>", true, true);
  for (int32_t id : ids) {
    if (id < 0 || id >= (*tok)->n_vocab()) std::abort();
  }
  (void)(*tok)->Decode(ids);
  return 0;
}
