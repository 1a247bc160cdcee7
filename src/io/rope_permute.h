// Q/K weight rows in the two RoPE layouts of LLaMA checkpoints:
//   interleaved (Meta's checkpoints, llama2.c, llama.cpp's GGUF for arch llama):
//     within a head of d rows, rows (2i, 2i+1) form rotation pair i;
//   halves (Hugging Face, rotate_half): rows (i, i + d/2) form pair i.
// Going from halves to interleaved is llama.cpp convert_hf_to_gguf.py's
// permute(w, n_head, n_head_kv) (n_head_kv heads for K):
//   w.reshape(n_head, 2, rows / n_head / 2, cols).swapaxes(1, 2).reshape(rows, cols)
// and the other way is Hugging Face's convert_llama_weights_to_hf permute.
// Whole rows move, so any row type works (block-quantized too), and a 1-D
// bias is permuted element by element.
#pragma once

#include <cstdint>

#include "base/status.h"
#include "base/tensor.h"

namespace leanlm {

enum class RopeLayout { kInterleaved, kHalves };

// The source row of row `row` of a tensor converted into layout `to` (the
// other layout being the source's); head_dim must be even.
int64_t RopeSourceRow(int64_t row, int64_t head_dim, RopeLayout to);

// Writes `src` (rows = ne[1] * ne[2] * ne[3]; for a 1-D tensor, its ne[0]
// elements) with rows reordered into layout `to`; dst holds src.bytes().
// Errors when the rows do not split into n_head heads of even size.
Status PermuteRopeRows(const TensorView& src, int64_t n_head, RopeLayout to, void* dst);

}  // namespace leanlm
