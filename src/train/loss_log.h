// The training record: one row per optimizer step (train loss, validation
// loss where it was measured, learning rate, gradient norm, tokens and time
// so far), written as CSV and drawn as a loss-curve SVG (our own small
// writer: axes with 1-2-5 ticks, the two series, a legend).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace leanlm {

struct LossRecord {
  int64_t step = 0;          // optimizer steps completed
  double train_loss = NAN;   // mean over the step's micro-batches
  double val_loss = NAN;     // NaN where not measured
  double lr = NAN;
  double grad_norm = NAN;    // before clipping
  int64_t tokens = 0;        // input tokens trained on so far
  double seconds = 0;        // training time so far
};

inline constexpr const char* kLossCsvHeader = "step,train_loss,val_loss,lr,grad_norm,tokens,seconds";

class LossLog {
 public:
  // Appends a step, or fills the fields a later call measures (validation)
  // into the record of the same step.
  void Add(const LossRecord& record);
  // Drops the records after `step` (resuming from a checkpoint redoes them).
  void TruncateAfter(int64_t step);
  const std::vector<LossRecord>& records() const { return records_; }

  std::string ToCsv() const;
  // Parses what ToCsv writes; errors name source:line.
  static Result<LossLog> FromCsv(std::string_view text, const std::string& source);
  Status WriteCsv(const std::string& path) const;  // atomically
  Status WriteSvg(const std::string& path, const std::string& title) const;  // atomically

 private:
  std::vector<LossRecord> records_;  // by increasing step
};

// A standalone SVG document of the train and validation loss against step.
std::string LossCurveSvg(const std::vector<LossRecord>& records, const std::string& title);

}  // namespace leanlm
