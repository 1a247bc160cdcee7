#include "train/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace leanlm {

Status ValidateSchedule(const ScheduleOptions& options) {
  if (!std::isfinite(options.lr) || options.lr < 0) return Status::Error("learning rate must be a finite number >= 0");
  if (options.warmup_steps < 0) return Status::Error("warmup steps must be >= 0");
  if (options.total_steps < 0) return Status::Error("total steps must be >= 0");
  return Status::Ok();
}

double ScheduleFactor(const ScheduleOptions& options, int64_t step) {
  const auto d = [](int64_t x) { return static_cast<double>(x); };
  const int64_t warmup = options.warmup_steps;
  if (step < warmup) return d(step) / d(std::max<int64_t>(1, warmup));
  const int64_t decay_steps = std::max<int64_t>(1, options.total_steps - warmup);
  switch (options.kind) {
    case ScheduleKind::kConstant:
      return 1.0;
    case ScheduleKind::kLinear:
      return std::max(0.0, d(options.total_steps - step) / d(decay_steps));
    case ScheduleKind::kCosine: {
      const double progress = d(step - warmup) / d(decay_steps);
      return std::max(0.0, 0.5 * (1.0 + std::cos(std::numbers::pi * 0.5 * 2.0 * progress)));
    }
  }
  return 1.0;
}

const char* ScheduleName(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::kConstant: return "constant";
    case ScheduleKind::kLinear: return "linear";
    case ScheduleKind::kCosine: return "cosine";
  }
  return "?";
}

Result<ScheduleKind> ParseScheduleKind(const std::string& name) {
  if (name == "constant") return ScheduleKind::kConstant;
  if (name == "linear") return ScheduleKind::kLinear;
  if (name == "cosine") return ScheduleKind::kCosine;
  return Status::Error("unknown learning-rate schedule '" + name + "' (expected constant, linear or cosine)");
}

}  // namespace leanlm
