#include "predict/face_classifier.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "pipeline/augment.hpp"

namespace fer {

ModelFaceClassifier::ModelFaceClassifier(const EmotionClassifier& model, int batch_size)
    : model_(model),
      batch_size_(batch_size),
      views_(eval_view_count(model.config().augment)),
      view_pixels_(model.input_side() * model.input_side()) {
  if (batch_size < 1) throw InputError("--batch must be >= 1");
  view_buffer_.resize(static_cast<std::size_t>(batch_size_) * views_ * view_pixels_);
  logit_buffer_.resize(static_cast<std::size_t>(batch_size_) * kNumEmotions);
}

void ModelFaceClassifier::classify(const std::vector<cv::Mat>& faces,
                                   std::vector<Probabilities>& out) {
  out.resize(faces.size());
  const std::size_t face_floats = static_cast<std::size_t>(views_) * view_pixels_;
  for (std::size_t first = 0; first < faces.size();
       first += static_cast<std::size_t>(batch_size_)) {
    const std::size_t count = std::min(faces.size() - first, static_cast<std::size_t>(batch_size_));
    for (std::size_t i = 0; i < count; ++i) {
      const cv::Mat& face = faces[first + i];
      CV_Assert(face.type() == CV_8UC1 && face.rows == kImageSide && face.cols == kImageSide &&
                face.isContinuous());
      eval_views(face.ptr<std::uint8_t>(), model_.config().augment,
                 view_buffer_.data() + i * face_floats);
    }
    model_.logits(view_buffer_.data(), static_cast<int>(count), views_, logit_buffer_.data());
    for (std::size_t i = 0; i < count; ++i) {
      const std::vector<double> p = softmax(logit_buffer_.data() + i * kNumEmotions, kNumEmotions);
      std::copy(p.begin(), p.end(), out[first + i].begin());
    }
  }
}

PredictionQueue::PredictionQueue(FaceClassifier& classifier, std::size_t batch_faces,
                                 std::size_t max_held_bytes, Sink sink)
    : classifier_(classifier),
      batch_faces_(std::max<std::size_t>(1, batch_faces)),
      max_held_bytes_(max_held_bytes),
      sink_(std::move(sink)) {}

void PredictionQueue::push(PendingImage image) {
  CV_Assert(image.crops.size() == image.prediction.faces.size());
  pending_faces_ += image.crops.size();
  held_bytes_ += image.picture.total() * image.picture.elemSize();
  pending_.push_back(std::move(image));
  if (pending_faces_ >= batch_faces_ || held_bytes_ > max_held_bytes_) flush();
}

void PredictionQueue::flush() {
  faces_.clear();
  for (const PendingImage& image : pending_)
    faces_.insert(faces_.end(), image.crops.begin(), image.crops.end());
  if (!faces_.empty()) classifier_.classify(faces_, probabilities_);
  std::size_t next = 0;
  for (PendingImage& image : pending_) {
    for (FacePrediction& face : image.prediction.faces) face.probabilities = probabilities_[next++];
    sink_(image);
  }
  pending_.clear();
  faces_.clear();  // drop the references to the crops
  pending_faces_ = held_bytes_ = 0;
}

}  // namespace fer
