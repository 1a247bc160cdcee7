#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "base/log.h"
#include "base/mmap_file.h"
#include "base/progress.h"
#include "train/checkpoint.h"
#include "train/loss_log.h"

namespace leanlm {
namespace {

// Batch seeds come from their own stream, apart from the data order's.
constexpr uint64_t kBatchSeedSalt = 0xb47c5eedd00df00dULL;

Status CheckOptions(const TrainerOptions& o, const Dataset& data) {
  if (data.train.empty()) return Status::Error("no training sequences");
  if (o.batch_size < 1 || o.grad_accum < 1) return Status::Error("batch size and gradient accumulation must be >= 1");
  if (o.steps < 0 || !(o.epochs > 0 && o.epochs < 1e9)) return Status::Error("steps must be >= 0 and epochs > 0");
  if (!(o.max_grad_norm >= 0 && std::isfinite(o.max_grad_norm))) return Status::Error("max grad norm must be >= 0");
  if (o.eval_every < 0 || o.eval_batches < 0 || o.save_every < 0) {
    return Status::Error("eval and save intervals must be >= 0");
  }
  if (o.resume && o.out_dir.empty()) return Status::Error("resuming needs an output directory");
  return ValidateSchedule(o.schedule);
}

std::string Path(const std::string& dir, const char* name) { return (std::filesystem::path(dir) / name).string(); }

class Loop {
 public:
  Loop(Objective& objective, const Dataset& data, const TrainerOptions& options)
      : objective_(objective), data_(data), o_(options), loader_(data.train, options.seed),
        rng_(options.seed ^ kBatchSeedSalt) {}

  Result<TrainResult> Run() {
    LEANLM_RETURN_IF_ERROR(CheckOptions(o_, data_));
    LEANLM_ASSIGN_OR_RETURN(optimizer_, Optimizer::Create(o_.optimizer, objective_.Params()));
    result_.total_steps = PlannedSteps(o_, static_cast<int64_t>(data_.train.size()));
    schedule_ = o_.schedule;
    if (schedule_.total_steps == 0) schedule_.total_steps = result_.total_steps;
    state_.data_fingerprint = DataFingerprint(data_.train);
    LEANLM_RETURN_IF_ERROR(Start());
    result_.start_step = state_.step;
    const auto t0 = std::chrono::steady_clock::now();
    const double seconds_before = state_.seconds;
    std::optional<Progress> progress;
    if (o_.show_progress) progress.emplace(o_.label, result_.total_steps - state_.step, "step");

    while (state_.step < result_.total_steps) {
      LossRecord record;
      LEANLM_RETURN_IF_ERROR(Step(record));
      result_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      state_.seconds = seconds_before + result_.seconds;
      record.seconds = state_.seconds;
      const bool last = state_.step == result_.total_steps;
      if ((o_.eval_every > 0 && state_.step % o_.eval_every == 0) || last) {
        LEANLM_RETURN_IF_ERROR(Validate(record));
      }
      log_.Add(record);
      if (progress) progress->Update(state_.step - result_.start_step, ProgressText(record));
      if ((o_.save_every > 0 && state_.step % o_.save_every == 0) || last) LEANLM_RETURN_IF_ERROR(Save());
      if (o_.keep_going && !o_.keep_going(state_.step)) {
        result_.interrupted = true;
        break;
      }
    }
    if (progress) progress->Finish(log_.records().empty() ? "" : ProgressText(log_.records().back()));
    result_.steps = state_.step;
    return result_;
  }

 private:
  // Either resumes from the checkpoint or starts fresh (measuring the
  // validation loss before training).
  Status Start() {
    const bool have = !o_.out_dir.empty() && CheckpointExists(o_.out_dir);
    if (have && !o_.resume) {
      return Status::Error(o_.out_dir + " already holds a training checkpoint: resume it, or choose another output");
    }
    if (have) {
      LEANLM_ASSIGN_OR_RETURN(TrainState loaded, LoadCheckpoint(o_.out_dir, *optimizer_));
      if (loaded.data_fingerprint != state_.data_fingerprint) {
        return Status::Error(o_.out_dir + ": the checkpoint was trained on other data (or another --ctx or split)");
      }
      if (loaded.step > result_.total_steps) {
        return Status::Error(o_.out_dir + ": the checkpoint is at step " + std::to_string(loaded.step) +
                             ", beyond the " + std::to_string(result_.total_steps) + " steps asked for");
      }
      LEANLM_RETURN_IF_ERROR(loader_.Seek(loaded.data).WithContext(o_.out_dir));
      LEANLM_RETURN_IF_ERROR(rng_.set_state(loaded.rng).WithContext(o_.out_dir));
      state_ = loaded;
      const std::string csv = Path(o_.out_dir, "loss.csv");
      if (std::filesystem::exists(csv)) {
        LEANLM_ASSIGN_OR_RETURN(std::string text, ReadTextFile(csv, size_t{256} << 20));
        LEANLM_ASSIGN_OR_RETURN(log_, LossLog::FromCsv(text, csv));
        log_.TruncateAfter(state_.step);  // the steps after the checkpoint are redone
      }
      LEANLM_INFO("resuming from step %lld of %lld", static_cast<long long>(state_.step),
                  static_cast<long long>(result_.total_steps));
      return Status::Ok();
    }
    if (o_.resume) LEANLM_INFO("no checkpoint in %s: starting from step 0", o_.out_dir.c_str());
    if (!data_.val.empty()) {
      LossRecord record;
      record.step = 0;
      LEANLM_RETURN_IF_ERROR(Validate(record));
      result_.first_val_loss = record.val_loss;
      log_.Add(record);
    }
    return Status::Ok();
  }

  Status Step(LossRecord& record) {
    const int64_t step = state_.step + 1;  // 1-based in messages and records
    const std::vector<TrainParam>& params = optimizer_->params();
    ZeroGrads(params);
    double loss_sum = 0;
    for (int64_t micro = 0; micro < o_.grad_accum; ++micro) {
      Batch batch = loader_.Next(o_.batch_size);
      batch.seed = rng_.Next();
      Result<float> loss = objective_.ForwardBackward(batch);
      if (!loss.ok()) return loss.status().WithContext("step " + std::to_string(step));
      if (!std::isfinite(loss.value())) return Stopped(step, "the loss is " + std::to_string(loss.value()));
      loss_sum += loss.value();
      state_.tokens += batch.tokens;
      result_.tokens += batch.tokens;
    }
    if (o_.grad_accum > 1) ScaleGrads(params, 1.0f / static_cast<float>(o_.grad_accum));
    const double norm = o_.max_grad_norm > 0 ? ClipGradNorm(params, o_.max_grad_norm) : GlobalGradNorm(params);
    if (!std::isfinite(norm)) return Stopped(step, "the gradient norm is " + std::to_string(norm));
    const double lr = LearningRate(schedule_, state_.step);
    optimizer_->Step(lr);
    state_.step = step;
    record.step = step;
    record.train_loss = loss_sum / static_cast<double>(o_.grad_accum);
    record.lr = lr;
    record.grad_norm = norm;
    record.tokens = state_.tokens;
    result_.last_train_loss = record.train_loss;
    return Status::Ok();
  }

  Status Stopped(int64_t step, const std::string& why) {
    std::string kept = "no checkpoint was written";
    if (saved_step_ >= 0) {
      kept = "the checkpoint of step " + std::to_string(saved_step_) + " in " + o_.out_dir + " is kept";
    } else if (result_.start_step > 0) {
      kept = "the checkpoint of step " + std::to_string(result_.start_step) + " in " + o_.out_dir + " is kept";
    }
    return Status::Error("step " + std::to_string(step) + ": " + why + "; training stopped, " + kept);
  }

  Status Validate(LossRecord& record) {
    if (data_.val.empty()) return Status::Ok();
    Result<double> val = EvaluateLoss(objective_, data_.val, o_.batch_size, o_.eval_batches);
    if (!val.ok()) return val.status().WithContext("validation after step " + std::to_string(record.step));
    record.val_loss = val.value();
    result_.last_val_loss = val.value();
    return Status::Ok();
  }

  // The loss curve first, the checkpoint last: a crash in between leaves
  // rows that a resume drops again.
  Status Save() {
    if (o_.out_dir.empty()) return Status::Ok();
    std::error_code ec;
    std::filesystem::create_directories(o_.out_dir, ec);
    LEANLM_RETURN_IF_ERROR(log_.WriteCsv(Path(o_.out_dir, "loss.csv")));
    LEANLM_RETURN_IF_ERROR(log_.WriteSvg(Path(o_.out_dir, "loss.svg"), o_.label + " loss"));
    if (o_.on_checkpoint) LEANLM_RETURN_IF_ERROR(o_.on_checkpoint(state_.step));
    state_.data = loader_.position();
    state_.rng = rng_.state();
    LEANLM_RETURN_IF_ERROR(SaveCheckpoint(o_.out_dir, *optimizer_, state_));
    saved_step_ = state_.step;
    return Status::Ok();
  }

  std::string ProgressText(const LossRecord& r) const {
    char buf[160];
    const double tps = result_.seconds > 0 ? static_cast<double>(result_.tokens) / result_.seconds : 0;
    int n = std::snprintf(buf, sizeof buf, "loss %.4f lr %.2e %.0f tok/s", r.train_loss, r.lr, tps);
    if (std::isfinite(result_.last_val_loss) && n > 0 && static_cast<size_t>(n) < sizeof buf) {
      std::snprintf(buf + n, sizeof buf - static_cast<size_t>(n), " val %.4f", result_.last_val_loss);
    }
    return buf;
  }

  Objective& objective_;
  const Dataset& data_;
  const TrainerOptions& o_;
  DataLoader loader_;
  TrainRng rng_;
  std::unique_ptr<Optimizer> optimizer_;
  ScheduleOptions schedule_;
  TrainState state_;
  LossLog log_;
  TrainResult result_;
  int64_t saved_step_ = -1;
};

}  // namespace

int64_t PlannedSteps(const TrainerOptions& options, int64_t n_train) {
  if (options.steps > 0) return options.steps;
  const double per_step = static_cast<double>(options.batch_size * options.grad_accum);
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(options.epochs * static_cast<double>(n_train) / per_step)));
}

Result<TrainResult> Train(Objective& objective, const Dataset& data, const TrainerOptions& options) {
  return Loop(objective, data, options).Run();
}

Result<double> EvaluateLoss(Objective& objective, const std::vector<Sequence>& sequences, int64_t batch_size,
                            int64_t max_batches) {
  double weighted = 0;
  int64_t weight = 0, batches = 0;
  for (size_t begin = 0; begin < sequences.size() && (max_batches == 0 || batches < max_batches); ++batches) {
    std::vector<const Sequence*> picked;
    for (; begin < sequences.size() && static_cast<int64_t>(picked.size()) < batch_size; ++begin) {
      picked.push_back(&sequences[begin]);
    }
    const Batch batch = MakeBatch(std::move(picked));
    if (batch.loss_tokens == 0) continue;
    LEANLM_ASSIGN_OR_RETURN(const float loss, objective.Evaluate(batch));
    weighted += static_cast<double>(loss) * static_cast<double>(batch.loss_tokens);
    weight += batch.loss_tokens;
  }
  if (weight == 0) return Status::Error("no labelled token in the validation data");
  return weighted / static_cast<double>(weight);
}

}  // namespace leanlm
