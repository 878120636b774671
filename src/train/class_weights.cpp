#include "train/class_weights.hpp"

#include <cmath>

namespace fer {

std::array<float, kNumEmotions> class_loss_weights(
    const std::array<std::size_t, kNumEmotions>& counts, double power) {
  double total = 0;
  for (std::size_t count : counts) total += static_cast<double>(count);
  std::array<double, kNumEmotions> weights{};
  double weighted_samples = 0;
  for (int c = 0; c < kNumEmotions; ++c)
    if (counts[c] > 0) {
      weights[c] = std::pow(total / static_cast<double>(counts[c]), power);
      weighted_samples += weights[c] * static_cast<double>(counts[c]);
    }
  std::array<float, kNumEmotions> normalised{};
  if (weighted_samples == 0) return normalised;
  for (int c = 0; c < kNumEmotions; ++c)
    normalised[c] = static_cast<float>(weights[c] * total / weighted_samples);
  return normalised;
}

}  // namespace fer
