#include "train/optim.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace leanlm {
namespace {

int64_t ShapeElements(const std::vector<int64_t>& ne) {
  int64_t n = 1;
  for (int64_t d : ne) {
    if (d <= 0 || n > (int64_t{1} << 40) / d) return -1;
    n *= d;
  }
  return n;
}

// torch.optim.AdamW, single-tensor path: the elementwise work in float as
// PyTorch's float kernels do, the bias corrections in double as Python does.
class AdamW final : public Optimizer {
 public:
  AdamW(const OptimizerOptions& options, std::vector<TrainParam> params) : Optimizer(options, std::move(params)) {
    for (const TrainParam& p : params_) {
      exp_avg_.emplace_back(static_cast<size_t>(p.n), 0.0f);
      exp_avg_sq_.emplace_back(static_cast<size_t>(p.n), 0.0f);
    }
  }

  void Step(double lr) override {
    ++steps_;
    const double b1 = options_.beta1, b2 = options_.beta2;
    const double bias_correction1 = 1.0 - std::pow(b1, static_cast<double>(steps_));
    const double bias_correction2 = 1.0 - std::pow(b2, static_cast<double>(steps_));
    const float step_size = static_cast<float>(lr / bias_correction1);
    const float bc2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
    const float eps = static_cast<float>(options_.eps);
    const float fb1 = static_cast<float>(b1), fb2 = static_cast<float>(b2);
    const float one_minus_b1 = static_cast<float>(1.0 - b1), one_minus_b2 = static_cast<float>(1.0 - b2);
    for (size_t i = 0; i < params_.size(); ++i) {
      const TrainParam& p = params_[i];
      const double wd = p.no_weight_decay ? 0.0 : options_.weight_decay;
      const float decay = static_cast<float>(1.0 - lr * wd);
      float* m = exp_avg_[i].data();
      float* v = exp_avg_sq_[i].data();
      for (int64_t j = 0; j < p.n; ++j) {
        const float g = p.grad[j];
        p.value[j] *= decay;
        m[j] = m[j] * fb1 + g * one_minus_b1;
        v[j] = v[j] * fb2 + one_minus_b2 * g * g;
        const float denom = std::sqrt(v[j]) / bc2_sqrt + eps;
        p.value[j] += -step_size * (m[j] / denom);
      }
    }
  }

  std::vector<OptimizerStateBuffer> StateBuffers() override {
    std::vector<OptimizerStateBuffer> out;
    for (size_t i = 0; i < params_.size(); ++i) {
      out.push_back({params_[i].name + ".exp_avg", exp_avg_[i].data(), params_[i].n});
      out.push_back({params_[i].name + ".exp_avg_sq", exp_avg_sq_[i].data(), params_[i].n});
    }
    return out;
  }

 private:
  std::vector<std::vector<float>> exp_avg_, exp_avg_sq_;  // per param, [n]
};

// torch.optim.SGD: L2 weight decay added to the gradient, momentum buffer
// started as a copy of the first gradient, optional dampening and Nesterov.
class Sgd final : public Optimizer {
 public:
  Sgd(const OptimizerOptions& options, std::vector<TrainParam> params) : Optimizer(options, std::move(params)) {
    if (options_.momentum != 0.0) {
      for (const TrainParam& p : params_) momentum_.emplace_back(static_cast<size_t>(p.n), 0.0f);
    }
  }

  void Step(double lr) override {
    const bool first = steps_ == 0;
    ++steps_;
    const float mu = static_cast<float>(options_.momentum);
    const float keep = static_cast<float>(1.0 - options_.dampening);
    const float neg_lr = static_cast<float>(-lr);
    for (size_t i = 0; i < params_.size(); ++i) {
      const TrainParam& p = params_[i];
      const float wd = p.no_weight_decay ? 0.0f : static_cast<float>(options_.weight_decay);
      float* buf = momentum_.empty() ? nullptr : momentum_[i].data();
      for (int64_t j = 0; j < p.n; ++j) {
        float d = p.grad[j];
        if (wd != 0.0f) d += p.value[j] * wd;
        if (buf != nullptr) {
          buf[j] = first ? d : buf[j] * mu + d * keep;
          d = options_.nesterov ? d + buf[j] * mu : buf[j];
        }
        p.value[j] += d * neg_lr;
      }
    }
  }

  std::vector<OptimizerStateBuffer> StateBuffers() override {
    std::vector<OptimizerStateBuffer> out;
    for (size_t i = 0; i < momentum_.size(); ++i) {
      out.push_back({params_[i].name + ".momentum_buffer", momentum_[i].data(), params_[i].n});
    }
    return out;
  }

 private:
  std::vector<std::vector<float>> momentum_;  // per param, [n]; empty without momentum
};

}  // namespace

Status ValidateParams(std::span<const TrainParam> params) {
  std::set<std::string> names;
  for (const TrainParam& p : params) {
    if (p.name.empty()) return Status::Error("trainable tensor with an empty name");
    if (!names.insert(p.name).second) return Status::Error("trainable tensor '" + p.name + "' listed twice");
    if (p.value == nullptr || p.grad == nullptr || p.n <= 0) {
      return Status::Error("trainable tensor '" + p.name + "' has no data");
    }
    if (!p.ne.empty() && (p.ne.size() > 4 || ShapeElements(p.ne) != p.n)) {
      return Status::Error("trainable tensor '" + p.name + "': shape does not hold " + std::to_string(p.n) +
                           " elements");
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<Optimizer>> Optimizer::Create(const OptimizerOptions& options, std::vector<TrainParam> params) {
  LEANLM_RETURN_IF_ERROR(ValidateParams(params));
  auto finite_in = [](double x, double lo, double hi) { return std::isfinite(x) && x >= lo && x <= hi; };
  if (!finite_in(options.weight_decay, 0.0, 1e6)) return Status::Error("weight decay must be >= 0");
  if (options.kind == OptimizerKind::kAdamW) {
    if (!finite_in(options.beta1, 0.0, 1.0) || options.beta1 >= 1.0 || !finite_in(options.beta2, 0.0, 1.0) ||
        options.beta2 >= 1.0) {
      return Status::Error("AdamW betas must lie in [0, 1)");
    }
    if (!finite_in(options.eps, 0.0, 1.0)) return Status::Error("AdamW eps must lie in [0, 1]");
    return std::unique_ptr<Optimizer>(new AdamW(options, std::move(params)));
  }
  if (!finite_in(options.momentum, 0.0, 1.0) || !finite_in(options.dampening, 0.0, 1.0)) {
    return Status::Error("SGD momentum and dampening must lie in [0, 1]");
  }
  if (options.nesterov && (options.momentum <= 0.0 || options.dampening != 0.0)) {
    return Status::Error("Nesterov momentum needs momentum > 0 and zero dampening");
  }
  return std::unique_ptr<Optimizer>(new Sgd(options, std::move(params)));
}

void ZeroGrads(std::span<const TrainParam> params) {
  for (const TrainParam& p : params) std::fill(p.grad, p.grad + p.n, 0.0f);
}

void ScaleGrads(std::span<const TrainParam> params, float factor) {
  for (const TrainParam& p : params) {
    for (int64_t j = 0; j < p.n; ++j) p.grad[j] *= factor;
  }
}

double GlobalGradNorm(std::span<const TrainParam> params) {
  double sum = 0.0;
  for (const TrainParam& p : params) {
    for (int64_t j = 0; j < p.n; ++j) sum += static_cast<double>(p.grad[j]) * p.grad[j];
  }
  return std::sqrt(sum);
}

double ClipGradNorm(std::span<const TrainParam> params, double max_norm) {
  const double norm = GlobalGradNorm(params);
  if (!std::isfinite(norm)) return norm;
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0) ScaleGrads(params, static_cast<float>(coef));
  return norm;
}

const char* OptimizerName(OptimizerKind kind) { return kind == OptimizerKind::kAdamW ? "adamw" : "sgd"; }

Result<OptimizerKind> ParseOptimizerKind(const std::string& name) {
  if (name == "adamw") return OptimizerKind::kAdamW;
  if (name == "sgd") return OptimizerKind::kSgd;
  return Status::Error("unknown optimizer '" + name + "' (expected adamw or sgd)");
}

}  // namespace leanlm
