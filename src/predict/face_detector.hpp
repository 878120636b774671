#pragma once
// Finding faces and turning them into what the model was trained on: OpenCV's Haar
// cascade finds frontal faces in a grayscale image (in strict mode only those it is
// confident of); each box is grown by a margin,
// made square (FER2013 faces are square crops that include the forehead and chin),
// padded by repeating the edge where it leaves the image, and resized to 48x48.

#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>
#include <vector>

namespace fer {

// Installed by Debian's opencv-data.
inline constexpr const char* kDefaultCascade =
    "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml";

struct DetectorOptions {
  std::filesystem::path cascade = kDefaultCascade;
  double scale_factor = 1.1;  // step between pyramid scales (> 1)
  int min_neighbors = 5;      // overlapping hits a face needs; more: fewer false faces
  int min_face_size = 30;     // pixels of the original image
  // Images whose longer side is larger are scanned at this size (boxes are mapped back
  // and crops taken from the full image): a 12-megapixel photo costs what a 1280 px one
  // does. 0: always scan at full size.
  int max_detect_side = 1280;
  // Strict mode: a box is kept only when the cascade's confidence in it (the sum of
  // its last stage, detectMultiScale3's level weight) is at least this. The face
  // cascade alone also fires on hair, shoulders, clothing and crowds, with low weights
  // (tests/bench/detect_bench.cpp measures it). 0: off.
  double min_level_weight = 0;
};
// --strict: the threshold measured on the labelled set (tests/predict/labelled_faces.hpp).
inline constexpr double kStrictLevelWeight = 4.0;

class FaceDetector {
 public:
  // Throws InputError when the options are out of range or the cascade cannot be loaded.
  explicit FaceDetector(const DetectorOptions& options);
  ~FaceDetector();
  FaceDetector(const FaceDetector&) = delete;
  FaceDetector& operator=(const FaceDetector&) = delete;

  // Boxes in `gray`'s pixels (8-bit, one channel), ordered left to right, then top
  // to bottom.
  std::vector<cv::Rect> detect(const cv::Mat& gray);

 private:
  struct Cascade;
  DetectorOptions options_;
  std::unique_ptr<Cascade> cascade_;
};

// The square region around `box` grown by `margin` x its longer side on every side,
// edges replicated outside the image, resized to side x side (8-bit, continuous).
cv::Mat crop_face(const cv::Mat& gray, const cv::Rect& box, double margin, int side);

// The whole image as one face (pre-cropped inputs such as FER2013's): resized to
// side x side, stretched if it is not square.
cv::Mat whole_image_face(const cv::Mat& gray, int side);

}  // namespace fer
