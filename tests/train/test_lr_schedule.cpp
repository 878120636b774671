#include <gtest/gtest.h>

#include "train/lr_schedule.hpp"

namespace fer {
namespace {

TEST(LrSchedule, WarmupCosineStepAndPlateau) {
  ScheduleConfig config;
  config.kind = ScheduleKind::kCosine;
  config.warmup_epochs = 1;
  config.warmup_start_factor = 0.1;
  LrSchedule cosine(config, 0.1, 11, 10);
  EXPECT_NEAR(cosine.lr_at(0, 0), 0.01, 1e-12);
  EXPECT_NEAR(cosine.lr_at(0, 5), 0.055, 1e-12);
  EXPECT_NEAR(cosine.lr_at(1, 0), 0.1, 1e-12);
  EXPECT_NEAR(cosine.lr_at(6, 0), 0.05, 1e-12);
  EXPECT_LT(cosine.lr_at(10, 9), 0.001);

  config.kind = ScheduleKind::kPlateau;
  config.warmup_epochs = 0;
  config.plateau_patience = 2;
  config.plateau_factor = 0.5;
  LrSchedule plateau(config, 0.1, 100, 10);
  EXPECT_FALSE(plateau.end_of_epoch(0.5));
  EXPECT_FALSE(plateau.end_of_epoch(0.4));
  EXPECT_TRUE(plateau.end_of_epoch(0.45));  // second epoch without gain
  EXPECT_NEAR(plateau.lr_at(3, 0), 0.05, 1e-12);
  EXPECT_FALSE(plateau.end_of_epoch(0.6));
  EXPECT_NEAR(plateau.lr_at(4, 0), 0.05, 1e-12);

  config.kind = ScheduleKind::kStep;
  config.step_epochs = 3;
  config.step_gamma = 0.1;
  LrSchedule step(config, 1.0, 10, 1);
  EXPECT_NEAR(step.lr_at(2, 0), 1.0, 1e-12);
  EXPECT_NEAR(step.lr_at(3, 0), 0.1, 1e-12);
  EXPECT_NEAR(step.lr_at(7, 0), 0.01, 1e-12);
}

}  // namespace
}  // namespace fer
