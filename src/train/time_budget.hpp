#pragma once
// Training to a wall-clock budget (train.time_budget_minutes): the number of epochs,
// and with it the end of the learning-rate schedule, is fitted to the time the run may
// take instead of being fixed. A first plan comes from the seconds per step measured
// in the first steps; after every epoch the plan is corrected from the measured
// seconds of the recent epochs (training and validation), so a slow or a loaded host
// gets fewer, a fast one more epochs, and the schedule still ends at the budget.
//
// The time spent and the plan are saved in checkpoints: a resumed run continues its
// budgeted schedule where it stopped; time between the two jobs does not count.
// Pure arithmetic (no clocks): the trainer measures and feeds it.

#include <cstddef>
#include <vector>

namespace fer {

class TimeBudget {
 public:
  // `max_epochs` (train.epochs) caps the plan.
  TimeBudget(double budget_seconds, int max_epochs);

  // A resumed run: the seconds its earlier jobs spent and their plan.
  void restore(double used_seconds, int planned_epochs);

  // First plan, during the first epoch: `seconds` for the first `steps` optimizer steps
  // of `steps_per_epoch`; `eval_fraction` estimates validation time as a share of an
  // epoch's training time. Returns the planned number of epochs.
  int plan_from_first_steps(double seconds, std::size_t steps, std::size_t steps_per_epoch,
                            double eval_fraction);

  // After epoch `epochs_completed` took `epoch_seconds` (training + validation):
  // returns the corrected plan. A plan equal to `epochs_completed` means: stop now.
  int end_of_epoch(int epochs_completed, double epoch_seconds);

  double budget_seconds() const { return budget_seconds_; }
  double used_seconds() const { return used_seconds_; }
  int planned_epochs() const { return planned_epochs_; }
  // The recent epochs' mean, the estimate the plan uses (0 before any epoch ended).
  double seconds_per_epoch() const;

 private:
  int fit(int epochs_completed, double seconds_per_epoch) const;

  double budget_seconds_;
  int max_epochs_;
  double used_seconds_ = 0;
  int planned_epochs_;
  std::vector<double> recent_epochs_;  // the last few epochs' seconds, newest last
};

}  // namespace fer
