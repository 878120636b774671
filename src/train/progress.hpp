#pragma once
// Training progress for people: a bar redrawn in place on a terminal; one line every
// N steps when stdout is a file or a Slurm log (no carriage-return soup).

#include <chrono>
#include <cstddef>
#include <string>

namespace fer {

class ProgressReporter {
 public:
  ProgressReporter(bool enabled, int log_every_steps);
  void begin_epoch(int epoch, int epochs, std::size_t steps);
  void update(std::size_t step, double loss, double accuracy, double images_per_second, double lr);
  // Ends the bar (newline on a terminal) and prints `line`.
  void end_epoch(const std::string& line);
  void message(const std::string& line);

 private:
  bool enabled_;
  bool terminal_;
  int log_every_;
  int epoch_ = 0, epochs_ = 0;
  std::size_t steps_ = 0;
  std::chrono::steady_clock::time_point epoch_start_;
};

// "1:02:03" or "2:03".
std::string format_duration(double seconds);

}  // namespace fer
