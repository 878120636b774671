#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "common/error.hpp"
#include "common/sha256.hpp"
#include "metrics/confusion_matrix.hpp"
#include "test_support.hpp"
#include "train/class_weights.hpp"
#include "train/lr_schedule.hpp"

namespace fer {
namespace {
namespace fs = std::filesystem;
using test::TempDir;

TEST(LrSchedule, WarmupCosineStepAndPlateau) {
  ScheduleConfig config;
  config.kind = "cosine";
  config.warmup_epochs = 1;
  config.warmup_start_factor = 0.1;
  LrSchedule cosine(config, 0.1, 11, 10);
  EXPECT_NEAR(cosine.lr_at(0, 0), 0.01, 1e-12);
  EXPECT_NEAR(cosine.lr_at(0, 5), 0.055, 1e-12);
  EXPECT_NEAR(cosine.lr_at(1, 0), 0.1, 1e-12);
  EXPECT_NEAR(cosine.lr_at(6, 0), 0.05, 1e-12);
  EXPECT_LT(cosine.lr_at(10, 9), 0.001);

  config.kind = "plateau";
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

  config.kind = "step";
  config.step_epochs = 3;
  config.step_gamma = 0.1;
  LrSchedule step(config, 1.0, 10, 1);
  EXPECT_NEAR(step.lr_at(2, 0), 1.0, 1e-12);
  EXPECT_NEAR(step.lr_at(3, 0), 0.1, 1e-12);
  EXPECT_NEAR(step.lr_at(7, 0), 0.01, 1e-12);
}

TEST(ConfusionMatrix, MetricsFromCounts) {
  ConfusionMatrix m(3);
  // truth 0: 8 right, 2 as 1; truth 1: 5 right; truth 2: 1 as 0, never predicted 2.
  m.add(0, 0, 8);
  m.add(0, 1, 2);
  m.add(1, 1, 5);
  m.add(2, 0, 1);
  EXPECT_EQ(m.total(), 16);
  EXPECT_DOUBLE_EQ(m.accuracy(), 13.0 / 16.0);
  const ClassMetrics c0 = m.class_metrics(0);
  EXPECT_DOUBLE_EQ(c0.precision, 8.0 / 9.0);
  EXPECT_DOUBLE_EQ(c0.recall, 0.8);
  EXPECT_EQ(c0.support, 10);
  EXPECT_DOUBLE_EQ(m.class_metrics(2).precision, 0.0);
  EXPECT_DOUBLE_EQ(m.class_metrics(2).f1, 0.0);
  ConfusionMatrix other(3);
  other.add(2, 2, 3);
  m.merge(other);
  EXPECT_EQ(m.count(2, 2), 3);
  EXPECT_DOUBLE_EQ(m.class_metrics(2).recall, 0.75);
  const double f1_0 = 2 * (8.0 / 9) * 0.8 / (8.0 / 9 + 0.8), f1_1 = 2 * (5.0 / 7) / (5.0 / 7 + 1);
  EXPECT_NEAR(m.macro_f1(), (f1_0 + f1_1 + 2 * 0.75 / 1.75) / 3, 1e-12);
  EXPECT_THROW(m.merge(ConfusionMatrix(4)), std::invalid_argument);
}

TEST(ClassLossWeights, PowerOneEqualisesClassesAndEveryPowerKeepsTheMeanWeightAtOne) {
  // FER2013's training split: Angry, Disgust, Fear, Happy, Sad, Surprise, Neutral.
  const std::array<std::size_t, kNumEmotions> counts = {3995, 436, 4097, 7215, 4830, 3171, 4965};
  double total = 0;
  for (std::size_t count : counts) total += static_cast<double>(count);
  const auto mean_over_samples = [&](const std::array<float, kNumEmotions>& weights) {
    double sum = 0;
    for (int c = 0; c < kNumEmotions; ++c) sum += weights[c] * static_cast<double>(counts[c]);
    return sum / total;
  };
  const auto inverse = class_loss_weights(counts, 1.0);
  const auto root = class_loss_weights(counts, 0.5);
  EXPECT_NEAR(mean_over_samples(inverse), 1.0, 1e-5);
  EXPECT_NEAR(mean_over_samples(root), 1.0, 1e-5);
  for (int c = 0; c < kNumEmotions; ++c) {
    // power 1: every class carries the same total weight, total / 7.
    EXPECT_NEAR(inverse[c] * static_cast<double>(counts[c]), total / kNumEmotions, 1e-2 * total);
    // power 0.5: the ratio of two classes' weights is the square root of their counts' ratio.
    EXPECT_NEAR(root[1] / root[c], std::sqrt(static_cast<double>(counts[c]) / counts[1]), 1e-4);
  }
  EXPECT_GT(inverse[1], root[1]);  // Disgust: the rarest class gains less with the root
  EXPECT_GT(root[1], 1.0f);
}

TEST(ClassLossWeights, AClassWithoutSamplesWeighsNothing) {
  const std::array<std::size_t, kNumEmotions> counts = {10, 0, 10, 10, 10, 10, 10};
  const auto weights = class_loss_weights(counts, 1.0);
  EXPECT_EQ(weights[1], 0.0f);
  for (int c : {0, 2, 3, 4, 5, 6}) EXPECT_NEAR(weights[c], 1.0f, 1e-6);
}

}  // namespace
}  // namespace fer
