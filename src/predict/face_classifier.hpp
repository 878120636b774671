#pragma once
// From 48x48 face crops to emotion probabilities, in batches. ModelFaceClassifier turns
// each crop into the model's views with pipeline/augment.hpp eval_views (the very
// normalisation, eval blur and test-time views that training and fer-eval use) and
// runs the network on up to `batch_size` faces at a time. PredictionQueue gathers the
// faces of consecutive images (or video frames) so that many small images share one
// forward pass, and hands the results back in input order.

#include <cstddef>
#include <filesystem>
#include <functional>
#include <opencv2/core.hpp>
#include <vector>

#include "inference/emotion_classifier.hpp"
#include "predict/prediction.hpp"

namespace fer {

// The seam between finding faces and the network (tests substitute a fake).
class FaceClassifier {
 public:
  virtual ~FaceClassifier() = default;
  // faces: kImageSide x kImageSide, 8-bit, one channel, continuous. out: one per face.
  virtual void classify(const std::vector<cv::Mat>& faces, std::vector<Probabilities>& out) = 0;
};

class ModelFaceClassifier : public FaceClassifier {
 public:
  ModelFaceClassifier(const EmotionClassifier& model, int batch_size);
  void classify(const std::vector<cv::Mat>& faces, std::vector<Probabilities>& out) override;

 private:
  const EmotionClassifier& model_;
  int batch_size_;
  int views_;                                      // eval views per face (1, 2 or 10)
  int view_pixels_;                                // input_side^2
  std::vector<float> view_buffer_, logit_buffer_;  // reused: fresh pages are slow here
};

// One image's faces waiting for their probabilities.
struct PendingImage {
  ImagePrediction prediction;  // boxes known; probabilities filled in by the queue
  std::vector<cv::Mat> crops;  // one 48x48 face per prediction.faces entry
  cv::Mat picture;             // kept for annotation (empty when not annotating)
  std::filesystem::path annotation_name;
  bool report = true;  // false: a video frame kept only for the annotated video
};

class PredictionQueue {
 public:
  using Sink = std::function<void(PendingImage&)>;
  // Classifies once `batch_faces` faces wait, or once the pictures held for annotation
  // exceed `max_held_bytes` (so annotating large photos cannot exhaust memory).
  PredictionQueue(FaceClassifier& classifier, std::size_t batch_faces, std::size_t max_held_bytes,
                  Sink sink);
  void push(PendingImage image);
  // Classifies what waits and passes every image to the sink, in push order.
  void flush();

 private:
  FaceClassifier& classifier_;
  std::size_t batch_faces_, max_held_bytes_;
  Sink sink_;
  std::vector<PendingImage> pending_;
  std::size_t pending_faces_ = 0, held_bytes_ = 0;
  std::vector<cv::Mat> faces_;  // reused between flushes
  std::vector<Probabilities> probabilities_;
};

}  // namespace fer
