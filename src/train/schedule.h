// Learning-rate schedules with linear warmup, as Hugging Face transformers'
// get_constant_schedule_with_warmup, get_linear_schedule_with_warmup and
// get_cosine_schedule_with_warmup (num_cycles = 0.5) define them: the rate
// for the optimizer step that follows `step` completed steps is
// base_lr * lambda(step), so the first step after a warmup start uses 0.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace leanlm {

enum class ScheduleKind { kConstant, kLinear, kCosine };

struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::kConstant;
  double lr = 1e-3;           // the peak (base) learning rate
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;    // linear and cosine decay reach 0 here
};

Status ValidateSchedule(const ScheduleOptions& options);
// The multiplier lambda(step) in [0, 1].
double ScheduleFactor(const ScheduleOptions& options, int64_t step);
// base lr * lambda(step): the rate of the optimizer step after `step` completed steps.
inline double LearningRate(const ScheduleOptions& options, int64_t step) {
  return options.lr * ScheduleFactor(options, step);
}

const char* ScheduleName(ScheduleKind kind);  // "constant", "linear", "cosine"
Result<ScheduleKind> ParseScheduleKind(const std::string& name);

}  // namespace leanlm
