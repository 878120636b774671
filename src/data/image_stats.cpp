#include "data/image_stats.hpp"

#include <cmath>
#include <cstdio>

namespace fer {

ImageStats image_statistics(const ImageSet& images, Split split) {
  double sum = 0, sum_squares = 0, sharpness = 0;
  std::size_t count = 0;
  for (std::size_t i = 0; i < images.size(); ++i) {
    if (images.splits[i] != split) continue;
    const std::uint8_t* p = images.image(i);
    for (int k = 0; k < kImagePixels; ++k) {
      sum += p[k];
      sum_squares += double(p[k]) * p[k];
    }
    // Variance of the Laplacian over the interior pixels.
    double lap_sum = 0, lap_squares = 0;
    constexpr int kInterior = (kImageSide - 2) * (kImageSide - 2);
    for (int y = 1; y < kImageSide - 1; ++y)
      for (int x = 1; x < kImageSide - 1; ++x) {
        const int c = y * kImageSide + x;
        const double lap =
            double(p[c - 1]) + p[c + 1] + p[c - kImageSide] + p[c + kImageSide] - 4.0 * p[c];
        lap_sum += lap;
        lap_squares += lap * lap;
      }
    const double lap_mean = lap_sum / kInterior;
    sharpness += lap_squares / kInterior - lap_mean * lap_mean;
    ++count;
  }
  ImageStats stats;
  if (count == 0) return stats;
  const double pixels = static_cast<double>(count) * kImagePixels;
  stats.pixel_mean = sum / pixels;
  stats.pixel_std =
      std::sqrt(std::max(0.0, sum_squares / pixels - stats.pixel_mean * stats.pixel_mean));
  stats.sharpness = sharpness / static_cast<double>(count);
  stats.present = true;
  return stats;
}

std::string sharpness_warning(const Manifest& manifest, double ratio) {
  const ImageStats& train = manifest.split(Split::kTrain).stats;
  if (!train.present || manifest.split(Split::kTrain).images == 0) return {};
  for (Split other : {Split::kVal, Split::kTest}) {
    const ImageStats& s = manifest.split(other).stats;
    if (!s.present || manifest.split(other).images == 0) continue;
    const double high = std::max(train.sharpness, s.sharpness),
                 low = std::min(train.sharpness, s.sharpness);
    if (low > 0 && high / low <= ratio) continue;
    char text[512];
    std::snprintf(
        text, sizeof text,
        "train images are %s than %s images (sharpness %.1f vs %.1f, mean Laplacian variance): "
        "a model trained on train sees another kind of image when evaluated%s",
        train.sharpness < s.sharpness ? "much blurrier" : "much sharper",
        std::string(split_name(other)).c_str(), train.sharpness, s.sharpness,
        train.sharpness < s.sharpness
            ? "; fer-train's augment.eval_blur_sigma blurs evaluation inputs to match (README)"
            : "; consider augment.blur_probability for training");
    return text;
  }
  return {};
}

}  // namespace fer
