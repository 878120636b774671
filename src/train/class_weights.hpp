#pragma once
// Loss weights against class imbalance, from the training split's class counts.

#include <array>
#include <cstddef>

#include "data/emotions.hpp"  // kNumEmotions (constants only: nothing to link)

namespace fer {

// (1 / class frequency)^power, normalised so that the weights average 1 over the
// training samples (the loss keeps its scale, and so does the learning rate that suits
// it). power 1 makes every class weigh the same in the loss; 0.5 halves the imbalance
// in logarithm, the milder choice for FER2013's 16:1 Happy:Disgust ratio. A class
// without samples gets weight 0.
std::array<float, kNumEmotions> class_loss_weights(
    const std::array<std::size_t, kNumEmotions>& counts, double power);

}  // namespace fer
