#include <gtest/gtest.h>

#include <cmath>

#include "train/lr_schedule.hpp"
#include "train/time_budget.hpp"

namespace fer {
namespace {

TEST(TimeBudget, FirstPlanFromTheFirstStepsIncludesValidation) {
  TimeBudget budget(/*budget_seconds=*/600, /*max_epochs=*/1000);
  // 10 steps in 5 s, 100 steps per epoch: 50 s training + 20% validation = 60 s.
  EXPECT_EQ(budget.plan_from_first_steps(5, 10, 100, 0.2), 10);
  // The cap wins over a budget that would allow more.
  TimeBudget capped(600, 4);
  EXPECT_EQ(capped.plan_from_first_steps(5, 10, 100, 0.2), 4);
}

TEST(TimeBudget, CorrectedEveryEpochAndEndsAtTheBudget) {
  TimeBudget budget(100, 1000);
  EXPECT_EQ(budget.plan_from_first_steps(1, 10, 100, 0.0), 10);  // 10 s per epoch, guessed
  // Epochs really take 20 s: after the first, 80 s remain -> 4 more.
  EXPECT_EQ(budget.end_of_epoch(1, 20), 5);
  EXPECT_EQ(budget.end_of_epoch(2, 20), 5);
  EXPECT_EQ(budget.end_of_epoch(3, 20), 5);
  EXPECT_EQ(budget.end_of_epoch(4, 20), 5);
  // The fifth epoch spends the budget: the plan equals the epochs done, the run stops.
  EXPECT_EQ(budget.end_of_epoch(5, 20), 5);
  EXPECT_DOUBLE_EQ(budget.used_seconds(), 100);
}

TEST(TimeBudget, AHostThatSlowsDownGetsFewerEpochs) {
  TimeBudget budget(120, 1000);
  EXPECT_EQ(budget.end_of_epoch(1, 10), 12);
  EXPECT_EQ(budget.end_of_epoch(2, 10), 12);
  // Three times slower from here: the mean of the last 3 epochs follows within a few.
  const int after_one_slow = budget.end_of_epoch(3, 30);  // mean 16.7 s, 70 s left
  EXPECT_EQ(after_one_slow, 3 + 4);
  EXPECT_LT(budget.end_of_epoch(4, 30), after_one_slow);
  // Over the budget: never fewer than the epochs already done.
  EXPECT_EQ(budget.end_of_epoch(5, 300), 5);
}

TEST(TimeBudget, AResumedRunContinuesItsPlan) {
  TimeBudget first(100, 1000);
  first.end_of_epoch(1, 20);
  first.end_of_epoch(2, 20);
  ASSERT_EQ(first.planned_epochs(), 5);
  // The checkpoint after epoch 2 keeps used seconds and the plan.
  TimeBudget resumed(100, 1000);
  resumed.restore(first.used_seconds(), first.planned_epochs());
  EXPECT_EQ(resumed.planned_epochs(), 5);
  EXPECT_DOUBLE_EQ(resumed.used_seconds(), 40);
  EXPECT_EQ(resumed.end_of_epoch(3, 20), 5);  // 40 s left, still two epochs of 20 s
  EXPECT_EQ(resumed.end_of_epoch(4, 20), 5);
  EXPECT_EQ(resumed.end_of_epoch(5, 20), 5);
}

TEST(TimeBudget, TheCosineScheduleEndsWithThePlan) {
  ScheduleConfig config;
  config.kind = ScheduleKind::kCosine;
  config.warmup_epochs = 1;
  config.min_lr = 0;
  LrSchedule schedule(config, /*base_lr=*/0.1, /*epochs=*/1000, /*steps_per_epoch=*/10);
  schedule.set_epochs(5);
  EXPECT_NEAR(schedule.lr_at(1, 0), 0.1, 1e-12);   // warmup over, cosine starts
  EXPECT_NEAR(schedule.lr_at(3, 0), 0.05, 1e-12);  // half way through 4 cosine epochs
  EXPECT_LT(schedule.lr_at(4, 9), 0.1 * 0.01);     // the last step of epoch 5: near 0
  schedule.set_epochs(9);                          // corrected: the cosine stretches
  EXPECT_NEAR(schedule.lr_at(5, 0), 0.05, 1e-12);
}

TEST(TimeBudget, RefusesANonPositiveBudget) {
  EXPECT_THROW(TimeBudget(0, 10), std::invalid_argument);
  EXPECT_THROW(TimeBudget(10, 0), std::invalid_argument);
}

}  // namespace
}  // namespace fer
