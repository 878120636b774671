#include "predict/face_detector.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "common/error.hpp"

namespace fer {

struct FaceDetector::Cascade {
  cv::CascadeClassifier classifier;
  cv::Mat scaled, equalized;  // reused between images
};

FaceDetector::FaceDetector(const DetectorOptions& options)
    : options_(options), cascade_(std::make_unique<Cascade>()) {
  if (!(options.scale_factor > 1.0))
    throw InputError("--scale-factor must be greater than 1 (got " +
                     std::to_string(options.scale_factor) + ")");
  if (options.min_neighbors < 0) throw InputError("--min-neighbors must be >= 0");
  if (options.min_face_size < 1) throw InputError("--min-face must be >= 1 pixel");
  if (options.max_detect_side < 0) throw InputError("--detect-side must be >= 0");
  if (options.min_level_weight < 0) throw InputError("--min-weight must be >= 0");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(options.cascade, ec))
    throw InputError("--cascade " + options.cascade.string() +
                     ": no such file (Debian installs the default with the opencv-data package)");
  bool loaded = false;
  try {
    loaded = cascade_->classifier.load(options.cascade.string());
  } catch (const cv::Exception& e) {
    throw InputError("--cascade " + options.cascade.string() + ": " + e.err);
  }
  if (!loaded || cascade_->classifier.empty())
    throw InputError("--cascade " + options.cascade.string() +
                     ": not an OpenCV cascade classifier file");
}

FaceDetector::~FaceDetector() = default;

std::vector<cv::Rect> FaceDetector::detect(const cv::Mat& gray) {
  CV_Assert(gray.type() == CV_8UC1);
  const int longer = std::max(gray.cols, gray.rows);
  const double scale = options_.max_detect_side > 0 && longer > options_.max_detect_side
                           ? static_cast<double>(options_.max_detect_side) / longer
                           : 1.0;
  const cv::Mat* scanned = &gray;
  if (scale < 1.0) {
    cv::resize(gray, cascade_->scaled, cv::Size(), scale, scale, cv::INTER_AREA);
    scanned = &cascade_->scaled;
  }
  // Equalising the histogram makes the cascade's dark-eyes / bright-cheeks contrasts
  // independent of exposure (the usual preprocessing for Haar face detection).
  cv::equalizeHist(*scanned, cascade_->equalized);
  const int min_side = std::max(1, static_cast<int>(std::lround(options_.min_face_size * scale)));
  std::vector<cv::Rect> boxes;
  if (options_.min_level_weight > 0) {
    // The same detections, with the weight of each (outputRejectLevels); weak ones go.
    std::vector<int> levels;
    std::vector<double> weights;
    std::vector<cv::Rect> weighed;
    cascade_->classifier.detectMultiScale(cascade_->equalized, weighed, levels, weights,
                                          options_.scale_factor, options_.min_neighbors, 0,
                                          cv::Size(min_side, min_side), cv::Size(), true);
    for (std::size_t i = 0; i < weighed.size(); ++i)
      if (i < weights.size() && weights[i] >= options_.min_level_weight)
        boxes.push_back(weighed[i]);
  } else {
    cascade_->classifier.detectMultiScale(cascade_->equalized, boxes, options_.scale_factor,
                                          options_.min_neighbors, 0, cv::Size(min_side, min_side));
  }
  if (scale < 1.0) {
    for (cv::Rect& box : boxes) {
      const int x = static_cast<int>(std::lround(box.x / scale));
      const int y = static_cast<int>(std::lround(box.y / scale));
      box = cv::Rect(x, y, static_cast<int>(std::lround(box.width / scale)),
                     static_cast<int>(std::lround(box.height / scale))) &
            cv::Rect(0, 0, gray.cols, gray.rows);
    }
  }
  std::sort(boxes.begin(), boxes.end(), [](const cv::Rect& a, const cv::Rect& b) {
    return a.x != b.x ? a.x < b.x : a.y < b.y;
  });
  return boxes;
}

namespace {

cv::Mat resized_to(const cv::Mat& image, int side) {
  cv::Mat face;
  // Area averaging when shrinking (no aliasing); linear when enlarging a small face.
  const int interpolation =
      image.cols >= side && image.rows >= side ? cv::INTER_AREA : cv::INTER_LINEAR;
  cv::resize(image, face, cv::Size(side, side), 0, 0, interpolation);
  return face.isContinuous() ? face : face.clone();
}

}  // namespace

cv::Mat crop_face(const cv::Mat& gray, const cv::Rect& box, double margin, int side) {
  CV_Assert(gray.type() == CV_8UC1 && !gray.empty() && box.area() > 0);
  const double square = std::max(box.width, box.height) * (1.0 + 2.0 * std::max(0.0, margin));
  const int extent = std::max(1, static_cast<int>(std::lround(square)));
  const cv::Point2d centre(box.x + box.width / 2.0, box.y + box.height / 2.0);
  const cv::Rect region(static_cast<int>(std::lround(centre.x - extent / 2.0)),
                        static_cast<int>(std::lround(centre.y - extent / 2.0)), extent, extent);
  const cv::Rect inside = region & cv::Rect(0, 0, gray.cols, gray.rows);
  if (inside == region) return resized_to(gray(region), side);
  cv::Mat padded;
  if (inside.area() == 0) {  // box entirely outside: nothing to show
    padded = cv::Mat(extent, extent, CV_8UC1, cv::Scalar(128));
  } else {
    cv::copyMakeBorder(gray(inside), padded, inside.y - region.y, region.br().y - inside.br().y,
                       inside.x - region.x, region.br().x - inside.br().x, cv::BORDER_REPLICATE);
  }
  return resized_to(padded, side);
}

cv::Mat whole_image_face(const cv::Mat& gray, int side) {
  CV_Assert(gray.type() == CV_8UC1 && !gray.empty());
  return resized_to(gray, side);
}

}  // namespace fer
