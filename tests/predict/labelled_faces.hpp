#pragma once
// A labelled face-detection set the tests build themselves (this machine has no face
// photographs): cluttered 640x480 pictures with 0 to 3 drawn faces at known boxes, and
// distractors of the kinds that fool a Haar face cascade in street photos: heads seen
// without a face (hair over a skin-coloured oval), dark-over-bright blobs, stripes and
// textured noise. Seeded, so every run scores the same pictures.

#include <opencv2/core.hpp>
#include <vector>

#include "predict/face_detector.hpp"

namespace fer::test {

struct LabelledPicture {
  cv::Mat bgr;
  std::vector<cv::Rect> faces;  // the drawn faces' boxes (about the face oval)
};

std::vector<LabelledPicture> labelled_face_set(int pictures, unsigned seed);

struct DetectionScore {
  int faces = 0;            // labelled faces
  int found = 0;            // labelled faces with a detection of IoU >= 0.3
  int false_positives = 0;  // detections matching no labelled face
  double recall() const { return faces ? static_cast<double>(found) / faces : 0; }
  double precision() const {
    const int detections = found + false_positives;
    return detections ? static_cast<double>(found) / detections : 1;
  }
};

DetectionScore score_detector(FaceDetector& detector, const std::vector<LabelledPicture>& set);

}  // namespace fer::test
