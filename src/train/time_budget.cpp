#include "train/time_budget.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace fer {
namespace {
// The plan follows the mean of this many recent epochs: one slow epoch (another job on
// the host, a checkpoint flush) does not swing it, a lasting change does within a few.
constexpr std::size_t kRecentEpochs = 3;
}  // namespace

TimeBudget::TimeBudget(double budget_seconds, int max_epochs)
    : budget_seconds_(budget_seconds), max_epochs_(max_epochs), planned_epochs_(max_epochs) {
  if (!(budget_seconds > 0) || max_epochs < 1)
    throw std::invalid_argument("TimeBudget: the budget and the epoch cap must be positive");
}

void TimeBudget::restore(double used_seconds, int planned_epochs) {
  used_seconds_ = std::max(0.0, used_seconds);
  planned_epochs_ = std::clamp(planned_epochs, 1, max_epochs_);
}

double TimeBudget::seconds_per_epoch() const {
  if (recent_epochs_.empty()) return 0;
  return std::accumulate(recent_epochs_.begin(), recent_epochs_.end(), 0.0) /
         static_cast<double>(recent_epochs_.size());
}

// The most epochs that fit: those done plus the whole epochs the remaining time holds.
// At least one epoch is always trained, and never more than the cap.
int TimeBudget::fit(int epochs_completed, double seconds_per_epoch) const {
  const double remaining = budget_seconds_ - used_seconds_;
  const double more = seconds_per_epoch > 0 ? std::floor(remaining / seconds_per_epoch) : 0;
  const double planned = static_cast<double>(epochs_completed) + std::max(0.0, more);
  return static_cast<int>(std::clamp(planned, std::max(1.0, static_cast<double>(epochs_completed)),
                                     static_cast<double>(max_epochs_)));
}

int TimeBudget::plan_from_first_steps(double seconds, std::size_t steps,
                                      std::size_t steps_per_epoch, double eval_fraction) {
  if (steps == 0 || steps_per_epoch == 0) return planned_epochs_;
  const double epoch = seconds / static_cast<double>(steps) * static_cast<double>(steps_per_epoch) *
                       (1.0 + std::max(0.0, eval_fraction));
  planned_epochs_ = fit(0, epoch);
  return planned_epochs_;
}

int TimeBudget::end_of_epoch(int epochs_completed, double epoch_seconds) {
  used_seconds_ += std::max(0.0, epoch_seconds);
  recent_epochs_.push_back(std::max(0.0, epoch_seconds));
  if (recent_epochs_.size() > kRecentEpochs) recent_epochs_.erase(recent_epochs_.begin());
  planned_epochs_ = fit(epochs_completed, seconds_per_epoch());
  return planned_epochs_;
}

}  // namespace fer
