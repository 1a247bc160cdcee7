#include "base/progress.h"

#include <cstdio>
#include <unistd.h>

namespace leanlm {
namespace {

std::string FormatSeconds(double s) {
  char buf[32];
  if (s < 0 || s > 1e7) return "?";
  const int t = static_cast<int>(s + 0.5);
  if (t >= 3600) {
    std::snprintf(buf, sizeof buf, "%dh%02dm", t / 3600, (t / 60) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%d:%02d", t / 60, t % 60);
  }
  return buf;
}

}  // namespace

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), tty_(isatty(STDERR_FILENO) != 0) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
  if (!finished_) Finish();
}

void Progress::Update(int64_t done, const std::string& extra) {
  done_ = done;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since < (tty_ ? 0.1 : 5.0)) return;
  last_draw_ = now;
  Draw(extra, false);
}

void Progress::Finish(const std::string& extra) {
  if (finished_) return;
  finished_ = true;
  if (done_ < total_) done_ = total_;
  Draw(extra, true);
}

void Progress::Draw(const std::string& extra, bool final_line) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? done_ / elapsed : 0;
  const double eta = rate > 0 ? (total_ - done_) / rate : -1;
  const double frac = total_ > 0 ? static_cast<double>(done_) / total_ : 1.0;
  char stats[160];
  std::snprintf(stats, sizeof stats, "%3.0f%% %lld/%lld %.1f %s/s ETA %s", frac * 100, static_cast<long long>(done_),
                static_cast<long long>(total_), rate, unit_.empty() ? "it" : unit_.c_str(),
                final_line ? FormatSeconds(elapsed).c_str() : FormatSeconds(eta).c_str());
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(frac * kWidth);
    std::string bar(filled, '#');
    bar.append(kWidth - filled, '.');
    std::fprintf(stderr, "\r%s [%s] %s %s\033[K%s", label_.c_str(), bar.c_str(), stats, extra.c_str(),
                 final_line ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s: %s %s\n", label_.c_str(), stats, extra.c_str());
  }
  std::fflush(stderr);
}

}  // namespace leanlm
