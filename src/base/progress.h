// Progress for long work: a bar with rate and ETA when stderr is a terminal,
// a plain line every few seconds otherwise (logs, CI).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace leanlm {

class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit = "");
  ~Progress();  // finishes the line if Finish() was not called
  void Update(int64_t done, const std::string& extra = "");
  void Finish(const std::string& extra = "");

 private:
  void Draw(const std::string& extra, bool final_line);

  std::string label_, unit_;
  int64_t total_, done_ = 0;
  bool tty_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace leanlm
