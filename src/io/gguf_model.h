// ModelConfig <-> GGUF metadata in llama.cpp's keys (general.architecture,
// <arch>.embedding_length, <arch>.attention.head_count, ...), so a file
// written by leanlm loads in llama.cpp and the other way round.
#pragma once

#include <string>
#include <vector>

#include "io/gguf.h"
#include "model/config.h"

namespace leanlm {

// llama.cpp stores Llama-3 RoPE scaling not as metadata but as this tensor:
// one F32 divisor of each rotated pair's frequency, ne {rotary_dim / 2}.
inline constexpr const char* kRopeFreqsTensor = "rope_freqs.weight";

// Reads the hyper-parameters of a model GGUF (the tensors are consulted for
// n_vocab, tied embeddings, Q/K/V biases and Llama-3 RoPE factors). Errors
// name the file and the key; unsupported architectures and RoPE scaling
// types (yarn, longrope) are errors rather than silently wrong models.
Result<ModelConfig> ConfigFromGguf(const GgufFile& gguf);

// Writes the metadata keys for `config`, with the value types llama.cpp
// checks (uint32 counts, float32 epsilons). Llama-3 scaling also needs the
// kRopeFreqsTensor tensor, which the caller adds (see Llama3RopeFactors).
// rope_neox is implied by the architecture: for arch llama the caller stores
// Q/K in the adjacent-pair layout.
void ConfigToGguf(const ModelConfig& config, GgufWriter& writer);

// The contents of kRopeFreqsTensor for a kLlama3 config, computed as
// llama.cpp's convert_hf_to_gguf.py does: 1 for wavelengths below
// orig_ctx / high_freq_factor, `factor` above orig_ctx / low_freq_factor,
// and a smooth blend in between.
std::vector<float> Llama3RopeFactors(const ModelConfig& config);

// Whether llama.cpp rotates halves (NEOX) for a GGUF architecture name.
Result<bool> RopeNeoxForArch(const std::string& arch);

}  // namespace leanlm
