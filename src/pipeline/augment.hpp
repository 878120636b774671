#pragma once
// Training augmentation and evaluation views of a 48x48 face, producing normalised
// float images. Each random choice comes from the caller's generator, seeded per
// sample, so the result does not depend on which thread did the work.

#include <cstdint>
#include <vector>

#include "common/rng.hpp"
#include "config/train_config.hpp"

namespace fer {

// One augmented training image into out[size * size] (size = model_input_size):
// one affine warp for scale (random resized crop), rotation, translation and flip
// (edges reflected), a random crop when crop_size > 0, normalisation, then random
// erasing (the rectangle is set to the normalised mean, 0). An optional random
// Gaussian blur (blur_probability) follows the warp.
void augment_for_training(const std::uint8_t* image48, const AugmentConfig& config, SplitMix64& rng,
                          float* out);

// Views used at evaluation (after the optional eval_blur_sigma blur): "none" -> 1 (centre crop or
// the whole image), "flip" -> 2 (plus its mirror), "tencrop" -> 10 (four corners and centre, and
// their mirrors), "shifts" -> 10 (the image and its 2-pixel shifts up, down, left and right,
// edges reflected, and their mirrors; for any crop size).
int eval_view_count(const AugmentConfig& config);
// Writes eval_view_count() normalised images of size^2 each into out.
void eval_views(const std::uint8_t* image48, const AugmentConfig& config, float* out);

}  // namespace fer
