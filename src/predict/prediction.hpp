#pragma once
// What fer-predict finds for one image or video frame: where the faces are and the
// probability of each emotion for each of them, or why the input could not be used.
// The writers (prediction_output.hpp) and the annotation (annotation.hpp) render these.

#include <array>
#include <cstdint>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/emotions.hpp"

namespace fer {

using Probabilities = std::array<double, kNumEmotions>;  // FER2013 id order, sum 1

struct FacePrediction {
  cv::Rect box;          // in the image's pixels
  bool detected = true;  // false: the whole image (--no-detect, --fallback whole)
  Probabilities probabilities{};
};

struct ImagePrediction {
  std::string source;                 // the file as named or found
  std::optional<std::int64_t> frame;  // video frame index (0-based)
  double time_seconds = 0;            // video frame timestamp
  int width = 0, height = 0;
  std::string error;                  // non-empty: the input could not be used, and why
  std::vector<FacePrediction> faces;  // empty without error: no face found

  bool failed() const { return !error.empty(); }
};

// The k most probable emotion ids, most probable first (ties: lower id first).
std::vector<int> top_emotions(const Probabilities& probabilities, int k);

}  // namespace fer
