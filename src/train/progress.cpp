#include "train/progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace fer {

std::string format_duration(double seconds) {
  const long total = seconds < 0 ? 0 : static_cast<long>(seconds + 0.5);
  char text[32];
  if (total >= 3600)
    std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
  else
    std::snprintf(text, sizeof text, "%ld:%02ld", total / 60, total % 60);
  return text;
}

ProgressReporter::ProgressReporter(bool enabled, int log_every_steps)
    : enabled_(enabled),
      // mpirun gives every rank a pseudo-terminal even when its own output goes to
      // a log file (open-mpi/ompi#7868): under mpirun, print lines, never a bar.
      terminal_(::isatty(STDOUT_FILENO) == 1 && std::getenv("OMPI_COMM_WORLD_SIZE") == nullptr),
      log_every_(log_every_steps > 0 ? log_every_steps : 50) {}

void ProgressReporter::begin_epoch(int epoch, int epochs, std::size_t steps) {
  epoch_ = epoch;
  epochs_ = epochs;
  steps_ = steps;
  epoch_start_ = std::chrono::steady_clock::now();
}

void ProgressReporter::update(std::size_t step, double loss, double accuracy,
                              double images_per_second, double lr) {
  if (!enabled_) return;
  const std::size_t done = step + 1;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start_).count();
  const double eta =
      done ? elapsed / static_cast<double>(done) * static_cast<double>(steps_ - done) : 0;
  if (terminal_) {
    constexpr int kWidth = 24;
    const int filled = steps_ ? static_cast<int>(kWidth * done / steps_) : kWidth;
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::printf("\r  epoch %d/%d [%s] %zu/%zu loss %.4f acc %5.1f%% %6.0f img/s lr %.2e ETA %s   ",
                epoch_, epochs_, bar.c_str(), done, steps_, loss, 100 * accuracy, images_per_second,
                lr, format_duration(eta).c_str());
    std::fflush(stdout);
  } else if (done % static_cast<std::size_t>(log_every_) == 0 || done == steps_) {
    std::printf("  epoch %d/%d step %zu/%zu loss %.4f acc %.1f%% %.0f img/s lr %.2e ETA %s\n",
                epoch_, epochs_, done, steps_, loss, 100 * accuracy, images_per_second, lr,
                format_duration(eta).c_str());
    std::fflush(stdout);
  }
}

void ProgressReporter::end_epoch(const std::string& line) {
  if (!enabled_) return;
  if (terminal_) std::printf("\r\033[K");
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void ProgressReporter::message(const std::string& line) {
  if (!enabled_) return;
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace fer
