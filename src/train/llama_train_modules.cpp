#include "train/llama_train_modules.h"

#include <cmath>
#include <vector>

#include "ops/activation.h"
#include "ops/add.h"
#include "ops/matmul.h"
#include "train/backward.h"

namespace leanlm {

// gelu_tanh(h) is the gated activation act(h) * 1, so the ops' GELU and its
// backward serve with a gate of ones.
void BottleneckForward(const BottleneckModule& m, float* y, int64_t n, BottleneckTape& tape, ThreadPool& pool) {
  const int64_t count = n * m.hidden;
  tape.u.assign(y, y + n * m.dim);
  tape.hidden.resize(static_cast<size_t>(count));
  tape.act.resize(static_cast<size_t>(count));
  MatMul(m.down->view(), y, n, tape.hidden.data(), pool);
  BiasForward(tape.hidden.data(), m.down_bias->value.data(), n, m.hidden);
  const std::vector<float> ones(static_cast<size_t>(count), 1.0f);
  GatedActivationForward(tape.act.data(), tape.hidden.data(), ones.data(), count, Activation::kGeluTanh, pool);
  std::vector<float> out(static_cast<size_t>(n * m.dim));
  MatMul(m.up->view(), tape.act.data(), n, out.data(), pool);
  BiasForward(out.data(), m.up_bias->value.data(), n, m.dim);
  AddForward(y, out.data(), n * m.dim);
}

void BottleneckBackward(const BottleneckModule& m, float* dy, int64_t n, const BottleneckTape& tape,
                        ThreadPool& pool) {
  const int64_t count = n * m.hidden;
  BiasBackward(m.up_bias->grad.data(), dy, n, m.dim);
  LinearBackwardWeight(m.up->grad.data(), dy, tape.act.data(), n, m.hidden, m.dim, pool);
  std::vector<float> dh(static_cast<size_t>(count)), dones(static_cast<size_t>(count));
  LinearBackwardInput(dh.data(), dy, m.up->view(), n, false, pool);
  const std::vector<float> ones(static_cast<size_t>(count), 1.0f);
  GatedActivationBackward(dh.data(), dones.data(), dh.data(), tape.hidden.data(), ones.data(), count,
                          Activation::kGeluTanh, pool);
  BiasBackward(m.down_bias->grad.data(), dh.data(), n, m.hidden);
  LinearBackwardWeight(m.down->grad.data(), dh.data(), tape.u.data(), n, m.dim, m.hidden, pool);
  LinearBackwardInput(dy, dh.data(), m.down->view(), n, true, pool);  // the residual's dy stays
}

void PrefixForward(const PrefixModule& m, PrefixTape& tape, ThreadPool& pool) {
  if (m.mlp1 == nullptr) {
    tape.kv = m.embd->value;
    return;
  }
  const int64_t p = m.n_virtual, hidden = m.mlp1->ne[1], width = m.mlp2->ne[1];
  tape.hidden.resize(static_cast<size_t>(p * hidden));
  MatMul(m.mlp1->view(), m.embd->value.data(), p, tape.hidden.data(), pool);
  BiasForward(tape.hidden.data(), m.mlp1_bias->value.data(), p, hidden);
  for (float& h : tape.hidden) h = std::tanh(h);
  tape.kv.resize(static_cast<size_t>(p * width));
  MatMul(m.mlp2->view(), tape.hidden.data(), p, tape.kv.data(), pool);
  BiasForward(tape.kv.data(), m.mlp2_bias->value.data(), p, width);
}

void PrefixBackward(const PrefixModule& m, const float* dkv, const PrefixTape& tape, ThreadPool& pool) {
  const int64_t p = m.n_virtual;
  if (m.mlp1 == nullptr) {
    for (size_t i = 0; i < m.embd->grad.size(); ++i) m.embd->grad[i] += dkv[i];
    return;
  }
  const int64_t token_dim = m.mlp1->ne[0], hidden = m.mlp1->ne[1], width = m.mlp2->ne[1];
  BiasBackward(m.mlp2_bias->grad.data(), dkv, p, width);
  LinearBackwardWeight(m.mlp2->grad.data(), dkv, tape.hidden.data(), p, hidden, width, pool);
  std::vector<float> dh(static_cast<size_t>(p * hidden));
  LinearBackwardInput(dh.data(), dkv, m.mlp2->view(), p, false, pool);
  for (size_t i = 0; i < dh.size(); ++i) dh[i] *= 1.0f - tape.hidden[i] * tape.hidden[i];  // tanh'
  BiasBackward(m.mlp1_bias->grad.data(), dh.data(), p, hidden);
  LinearBackwardWeight(m.mlp1->grad.data(), dh.data(), m.embd->value.data(), p, token_dim, hidden, pool);
  std::vector<float> de(static_cast<size_t>(p * token_dim));
  LinearBackwardInput(de.data(), dh.data(), m.mlp1->view(), p, false, pool);
  for (size_t i = 0; i < de.size(); ++i) m.embd->grad[i] += de[i];
}

}  // namespace leanlm
