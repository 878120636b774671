#pragma once
// Learning-rate schedules: linear warmup, then cosine decay, step decay, constant,
// or reduce-on-plateau of validation accuracy. The state that changes during a run
// (plateau factor, best accuracy, epochs without gain) is saved in checkpoints.

#include <cstddef>
#include <string>

#include "config/train_config.hpp"

namespace fer {

struct PlateauState {
  double factor = 1.0;  // product of the reductions so far
  double best_accuracy = -1.0;
  int epochs_without_gain = 0;
};

class LrSchedule {
 public:
  LrSchedule(const ScheduleConfig& config, double base_lr, int epochs, std::size_t steps_per_epoch);

  // Learning rate for a step; `epoch` counts from 0.
  double lr_at(int epoch, std::size_t step_in_epoch) const;
  // Reduce-on-plateau bookkeeping after an epoch's validation; returns true when the
  // rate was reduced.
  bool end_of_epoch(double val_accuracy);

  // Training to a time budget moves the end of the schedule as the plan is corrected.
  void set_epochs(int epochs) { epochs_ = epochs; }
  int epochs() const { return epochs_; }

  const PlateauState& plateau() const { return plateau_; }
  void restore(const PlateauState& state) { plateau_ = state; }

 private:
  ScheduleConfig config_;
  double base_lr_;
  int epochs_;
  std::size_t steps_per_epoch_;
  PlateauState plateau_;
};

}  // namespace fer
