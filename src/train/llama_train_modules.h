// The small trainable modules the PEFT methods add around the LLaMA block
// (llama_train_model.h), forward next to backward: the Houlsby bottleneck
// adapter and prefix tuning's key/value table with its optional
// reparameterization MLP. Built on the inference ops and their backwards.
#pragma once

#include <cstdint>
#include <vector>

#include "base/thread_pool.h"
#include "train/llama_train_model.h"

namespace leanlm {

struct BottleneckTape {
  std::vector<float> u;       // (n, dim) the sublayer output the adapter reads
  std::vector<float> hidden;  // (n, hidden) down · u + down_bias, before the GELU
  std::vector<float> act;     // (n, hidden) gelu_tanh(hidden)
};

// y (n, dim) = u + up · gelu_tanh(down · u + down_bias) + up_bias, in place
// (y holds u on entry).
void BottleneckForward(const BottleneckModule& m, float* y, int64_t n, BottleneckTape& tape, ThreadPool& pool);
// dy (n, dim) is turned in place into dL/du; the module's gradients += .
void BottleneckBackward(const BottleneckModule& m, float* dy, int64_t n, const BottleneckTape& tape,
                        ThreadPool& pool);

struct PrefixTape {
  std::vector<float> kv;      // (n_virtual, n_layer * 2 * kv_dim)
  std::vector<float> hidden;  // MLP: (n_virtual, hidden) tanh(mlp1 · e + b1)
};

// The prefix's keys and values: tape.kv row p = [layer 0 key, layer 0 value,
// layer 1 key, ...] of virtual token p.
void PrefixForward(const PrefixModule& m, PrefixTape& tape, ThreadPool& pool);
// dkv: (n_virtual, n_layer * 2 * kv_dim) = dL/d(tape.kv); the module's
// gradients += .
void PrefixBackward(const PrefixModule& m, const float* dkv, const PrefixTape& tape, ThreadPool& pool);

}  // namespace leanlm
