#include "train/lr_schedule.hpp"

#include <algorithm>
#include <cmath>

namespace fer {

LrSchedule::LrSchedule(const ScheduleConfig& config, double base_lr, int epochs,
                       std::size_t steps_per_epoch)
    : config_(config),
      base_lr_(base_lr),
      epochs_(epochs),
      steps_per_epoch_(std::max<std::size_t>(1, steps_per_epoch)) {}

double LrSchedule::lr_at(int epoch, std::size_t step_in_epoch) const {
  const double progress_epochs =
      epoch + static_cast<double>(step_in_epoch) /
                  static_cast<double>(steps_per_epoch_);  // fractional epochs
  if (progress_epochs < config_.warmup_epochs) {
    const double t = progress_epochs / config_.warmup_epochs;
    return base_lr_ * (config_.warmup_start_factor + (1.0 - config_.warmup_start_factor) * t);
  }
  switch (config_.kind) {
    case ScheduleKind::kCosine: {
      const double span = std::max(1e-9, epochs_ - config_.warmup_epochs);
      const double t = std::clamp((progress_epochs - config_.warmup_epochs) / span, 0.0, 1.0);
      return config_.min_lr + (base_lr_ - config_.min_lr) * 0.5 * (1.0 + std::cos(M_PI * t));
    }
    case ScheduleKind::kStep:
      return base_lr_ * std::pow(config_.step_gamma, epoch / std::max(1, config_.step_epochs));
    case ScheduleKind::kPlateau:
      return std::max(config_.min_lr, base_lr_ * plateau_.factor);
    case ScheduleKind::kConstant:
      break;
  }
  return base_lr_;
}

bool LrSchedule::end_of_epoch(double val_accuracy) {
  if (val_accuracy > plateau_.best_accuracy) {
    plateau_.best_accuracy = val_accuracy;
    plateau_.epochs_without_gain = 0;
    return false;
  }
  if (config_.kind != ScheduleKind::kPlateau) return false;
  if (++plateau_.epochs_without_gain < config_.plateau_patience) return false;
  plateau_.factor *= config_.plateau_factor;
  plateau_.epochs_without_gain = 0;
  return true;
}

}  // namespace fer
