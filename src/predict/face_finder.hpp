#pragma once
// From a grayscale picture to the faces the model is shown: the detector's boxes and
// their 48x48 crops, or the whole picture as one face (no detection, or a fallback
// when none is found). fer-predict and fer-serve both use it, so the same photo gives
// the same faces, crops and predictions in both.

#include <memory>
#include <opencv2/core.hpp>
#include <vector>

#include "predict/face_detector.hpp"
#include "predict/prediction.hpp"

namespace fer {

struct FaceFinderOptions {
  bool detect = true;  // false: every image is one pre-cropped face (--no-detect)
  DetectorOptions detector;
  double margin = 0.1;          // crop margin, fraction of the box side on every side
  bool fallback_whole = false;  // no face found: classify the whole image instead
};

class FaceFinder {
 public:
  // Loads the cascade when options.detect; throws InputError when it cannot or when
  // the margin is outside 0..2.
  explicit FaceFinder(const FaceFinderOptions& options);
  ~FaceFinder();
  FaceFinder(FaceFinder&&) noexcept;
  FaceFinder& operator=(FaceFinder&&) noexcept;

  // Sets prediction's width and height, appends one FacePrediction (box, detected,
  // no probabilities yet) per face and its crop (kImageSide^2, 8-bit) to `crops`.
  void find(const cv::Mat& gray, ImagePrediction& prediction, std::vector<cv::Mat>& crops);

  const FaceFinderOptions& options() const { return options_; }

 private:
  FaceFinderOptions options_;
  std::unique_ptr<FaceDetector> detector_;
};

}  // namespace fer
