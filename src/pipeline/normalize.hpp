#pragma once
// The one normalisation used by training, evaluation and prediction: a model only
// works on inputs scaled the way it was trained.

#include <cstddef>
#include <cstdint>

namespace fer {

// FER2013's pixel mean is ~0.507 and its standard deviation ~0.255 (of 255); round
// values keep the mapping easy to reproduce in other tools: x' = (x / 255 - 0.5) / 0.25.
inline constexpr float kPixelMean = 0.5f;
inline constexpr float kPixelStd = 0.25f;

inline float normalize_pixel(float value_0_255) {
  return (value_0_255 / 255.0f - kPixelMean) / kPixelStd;
}

inline void normalize_pixels(const std::uint8_t* in, float* out, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) out[i] = normalize_pixel(static_cast<float>(in[i]));
}

}  // namespace fer
