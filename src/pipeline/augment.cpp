#include "pipeline/augment.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "data/emotions.hpp"
#include "pipeline/normalize.hpp"

namespace fer {
namespace {

// Copies a size x size window of a 48x48 image at (x, y), mirrored if asked, normalised.
void crop_normalized(const std::uint8_t* image48, int x, int y, int size, bool mirror, float* out) {
  for (int r = 0; r < size; ++r)
    for (int c = 0; c < size; ++c) {
      const int source_c = mirror ? x + size - 1 - c : x + c;
      out[r * size + c] = normalize_pixel(image48[(y + r) * kImageSide + source_c]);
    }
}

void gaussian_blur(const std::uint8_t* image48, double sigma, std::uint8_t* out48) {
  const cv::Mat source(kImageSide, kImageSide, CV_8UC1, const_cast<std::uint8_t*>(image48));
  cv::Mat target(kImageSide, kImageSide, CV_8UC1, out48);
  cv::GaussianBlur(source, target, cv::Size(0, 0), sigma, sigma, cv::BORDER_REFLECT_101);
}

// image48 moved by (dx, dy) whole pixels, edges reflected as in training's shifts.
void shifted(const std::uint8_t* image48, int dx, int dy, std::uint8_t* out48) {
  const cv::Mat source(kImageSide, kImageSide, CV_8UC1, const_cast<std::uint8_t*>(image48));
  cv::Mat target(kImageSide, kImageSide, CV_8UC1, out48);
  const cv::Mat translation = (cv::Mat_<double>(2, 3) << 1, 0, dx, 0, 1, dy);
  cv::warpAffine(source, target, translation, target.size(), cv::INTER_NEAREST,
                 cv::BORDER_REFLECT_101);
}

// The shifts of the "shifts" views: none, then 2 pixels each way; small against
// training's translate_pixels so that every view stays a face the model has seen.
constexpr int kShiftPixels = 2;
constexpr int kShifts[5][2] = {
    {0, 0}, {kShiftPixels, 0}, {-kShiftPixels, 0}, {0, kShiftPixels}, {0, -kShiftPixels}};

}  // namespace

void augment_for_training(const std::uint8_t* image48, const AugmentConfig& config, SplitMix64& rng,
                          float* out) {
  // Draw every parameter unconditionally so each sample uses the same number of
  // random values whatever the probabilities (keeps streams aligned across configs).
  const bool scale_on = rng.uniform() < config.scale_probability;
  const double scale = rng.uniform(config.scale_min, config.scale_max);
  const bool rotate_on = rng.uniform() < config.rotate_probability;
  const double angle = rng.uniform(-config.rotate_degrees, config.rotate_degrees);
  const bool translate_on = rng.uniform() < config.translate_probability;
  const double dx = rng.uniform(-config.translate_pixels, config.translate_pixels);
  const double dy = rng.uniform(-config.translate_pixels, config.translate_pixels);
  const bool flip = rng.uniform() < config.flip_probability;
  const int size = model_input_size(config);
  const int crop_x = static_cast<int>(rng.below(static_cast<std::uint64_t>(kImageSide - size + 1)));
  const int crop_y = static_cast<int>(rng.below(static_cast<std::uint64_t>(kImageSide - size + 1)));
  const bool erase_on = rng.uniform() < config.erase_probability;
  const double erase_area =
      rng.uniform(0.02, std::max(0.02, config.erase_max_fraction)) * size * size;
  const double erase_aspect = std::exp(rng.uniform(std::log(0.3), std::log(3.3)));
  const double erase_u = rng.uniform(), erase_v = rng.uniform();
  const bool blur_on = rng.uniform() < config.blur_probability;
  const double blur_sigma = rng.uniform(0.3, std::max(0.3, config.blur_sigma_max));

  std::uint8_t warped[kImagePixels];
  const bool any_warp = scale_on || rotate_on || translate_on || flip;
  if (any_warp) {
    const cv::Point2f center(kImageSide / 2.0f - 0.5f, kImageSide / 2.0f - 0.5f);
    cv::Mat affine =
        cv::getRotationMatrix2D(center, rotate_on ? angle : 0.0, scale_on ? scale : 1.0);
    if (flip) {  // mirror x around the centre: x' = (W - 1) - x, composed after the rotation
      affine.at<double>(0, 0) = -affine.at<double>(0, 0);
      affine.at<double>(0, 1) = -affine.at<double>(0, 1);
      affine.at<double>(0, 2) = (kImageSide - 1) - affine.at<double>(0, 2);
    }
    if (translate_on) {
      affine.at<double>(0, 2) += dx;
      affine.at<double>(1, 2) += dy;
    }
    const cv::Mat source(kImageSide, kImageSide, CV_8UC1, const_cast<std::uint8_t*>(image48));
    cv::Mat target(kImageSide, kImageSide, CV_8UC1, warped);
    cv::warpAffine(source, target, affine, target.size(), cv::INTER_LINEAR, cv::BORDER_REFLECT_101);
  }
  const std::uint8_t* source = any_warp ? warped : image48;
  std::uint8_t blurred[kImagePixels];
  if (blur_on) {
    gaussian_blur(source, blur_sigma, blurred);
    source = blurred;
  }
  crop_normalized(source, crop_x, crop_y, size, false, out);

  if (erase_on) {
    const int h =
        std::clamp(static_cast<int>(std::lround(std::sqrt(erase_area * erase_aspect))), 1, size);
    const int w =
        std::clamp(static_cast<int>(std::lround(std::sqrt(erase_area / erase_aspect))), 1, size);
    const int top = static_cast<int>(erase_v * (size - h + 1)),
              left = static_cast<int>(erase_u * (size - w + 1));
    for (int r = top; r < top + h; ++r)
      std::fill(out + r * size + left, out + r * size + left + w, 0.0f);
  }
}

int eval_view_count(const AugmentConfig& config) {
  switch (config.eval_tta) {
    case EvalTta::kNone:
      return 1;
    case EvalTta::kFlip:
      return 2;
    case EvalTta::kShifts:
    case EvalTta::kTencrop:
      return 10;
  }
  return 1;
}

void eval_views(const std::uint8_t* image48, const AugmentConfig& config, float* out) {
  std::uint8_t blurred[kImagePixels];
  if (config.eval_blur_sigma > 0) {
    gaussian_blur(image48, config.eval_blur_sigma, blurred);
    image48 = blurred;
  }
  const int size = model_input_size(config);
  const int centre = (kImageSide - size) / 2, far = kImageSide - size;
  const int pixels = size * size;
  if (config.eval_tta == EvalTta::kTencrop) {
    const int corners[5][2] = {{0, 0}, {far, 0}, {0, far}, {far, far}, {centre, centre}};
    for (int k = 0; k < 5; ++k) {
      crop_normalized(image48, corners[k][0], corners[k][1], size, false, out + k * pixels);
      crop_normalized(image48, corners[k][0], corners[k][1], size, true, out + (5 + k) * pixels);
    }
    return;
  }
  if (config.eval_tta == EvalTta::kShifts) {
    std::uint8_t moved[kImagePixels];
    for (int k = 0; k < 5; ++k) {
      shifted(image48, kShifts[k][0], kShifts[k][1], moved);
      crop_normalized(moved, centre, centre, size, false, out + k * pixels);
      crop_normalized(moved, centre, centre, size, true, out + (5 + k) * pixels);
    }
    return;
  }
  crop_normalized(image48, centre, centre, size, false, out);
  if (config.eval_tta == EvalTta::kFlip)
    crop_normalized(image48, centre, centre, size, true, out + pixels);
}

}  // namespace fer
