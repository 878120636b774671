#include "predict/face_finder.hpp"

#include "common/error.hpp"
#include "data/emotions.hpp"

namespace fer {

FaceFinder::FaceFinder(const FaceFinderOptions& options) : options_(options) {
  if (options_.margin < 0 || options_.margin > 2)
    throw InputError("--margin must be within 0..2 (a fraction of the face box)");
  if (options_.detect) detector_ = std::make_unique<FaceDetector>(options_.detector);
}

FaceFinder::~FaceFinder() = default;
FaceFinder::FaceFinder(FaceFinder&&) noexcept = default;
FaceFinder& FaceFinder::operator=(FaceFinder&&) noexcept = default;

void FaceFinder::find(const cv::Mat& gray, ImagePrediction& prediction,
                      std::vector<cv::Mat>& crops) {
  prediction.width = gray.cols;
  prediction.height = gray.rows;
  const std::size_t before = prediction.faces.size();
  if (detector_) {
    for (const cv::Rect& box : detector_->detect(gray)) {
      crops.push_back(crop_face(gray, box, options_.margin, kImageSide));
      prediction.faces.push_back(FacePrediction{box, true, {}});
    }
  }
  if (prediction.faces.size() == before && (!options_.detect || options_.fallback_whole)) {
    crops.push_back(whole_image_face(gray, kImageSide));
    prediction.faces.push_back(FacePrediction{cv::Rect(0, 0, gray.cols, gray.rows), false, {}});
  }
}

}  // namespace fer
