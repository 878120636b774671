#include <gtest/gtest.h>

#include <array>
#include <cmath>

#include "train/class_weights.hpp"

namespace fer {
namespace {

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
