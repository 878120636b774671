#include "predict/annotation.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/atomic_output.hpp"

namespace fer {
namespace fs = std::filesystem;

namespace {

// One colour per emotion (BGR), in FER2013 id order, so boxes read at a glance.
const std::array<cv::Scalar, kNumEmotions> kEmotionColours = {
    cv::Scalar(40, 40, 230),   // Angry: red
    cv::Scalar(40, 160, 40),   // Disgust: green
    cv::Scalar(160, 40, 160),  // Fear: purple
    cv::Scalar(0, 200, 255),   // Happy: yellow
    cv::Scalar(200, 110, 30),  // Sad: blue
    cv::Scalar(0, 140, 255),   // Surprise: orange
    cv::Scalar(170, 170, 170)  // Neutral: grey
};

// Text with a filled background so it stays readable on any picture. `anchor` is the
// bottom-left corner of the label, moved inside the image when it would leave it.
void draw_label(cv::Mat& bgr, const std::string& text, cv::Point anchor, const cv::Scalar& colour,
                double font_scale, int thickness) {
  int baseline = 0;
  const cv::Size size =
      cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, font_scale, thickness, &baseline);
  const int pad = std::max(2, thickness);
  anchor.x = std::clamp(anchor.x, 0, std::max(0, bgr.cols - size.width - 2 * pad));
  anchor.y = std::clamp(anchor.y, size.height + 2 * pad, std::max(size.height + 2 * pad, bgr.rows));
  cv::rectangle(bgr, cv::Point(anchor.x, anchor.y - size.height - 2 * pad),
                cv::Point(anchor.x + size.width + 2 * pad, anchor.y), colour, cv::FILLED);
  const double brightness = 0.114 * colour[0] + 0.587 * colour[1] + 0.299 * colour[2];
  const cv::Scalar ink = brightness > 140 ? cv::Scalar(0, 0, 0) : cv::Scalar(255, 255, 255);
  cv::putText(bgr, text, cv::Point(anchor.x + pad, anchor.y - pad), cv::FONT_HERSHEY_SIMPLEX,
              font_scale, ink, thickness, cv::LINE_AA);
}

}  // namespace

void draw_predictions(cv::Mat& bgr, const ImagePrediction& image) {
  CV_Assert(bgr.type() == CV_8UC3);
  const int shorter = std::min(bgr.cols, bgr.rows);
  const int thickness = std::max(1, static_cast<int>(std::lround(shorter / 300.0)));
  const double font_scale = std::max(0.35, shorter / 900.0);
  if (image.faces.empty()) {
    draw_label(bgr, "no face found", cv::Point(0, 0), cv::Scalar(60, 60, 60), font_scale,
               thickness);
    return;
  }
  for (const FacePrediction& face : image.faces) {
    const int best = top_emotions(face.probabilities, 1)[0];
    const auto id = static_cast<std::size_t>(best);
    const cv::Scalar& colour = kEmotionColours[id];
    if (face.detected) cv::rectangle(bgr, face.box, colour, thickness, cv::LINE_AA);
    const std::string label =
        std::string(kEmotionNames[id]) + " " +
        std::to_string(static_cast<int>(std::lround(100 * face.probabilities[id]))) + "%";
    draw_label(bgr, label, face.detected ? face.box.tl() : cv::Point(0, 0), colour, font_scale,
               thickness);
  }
}

ImageAnnotator::ImageAnnotator(fs::path directory) : directory_(std::move(directory)) {
  std::error_code ec;
  fs::create_directories(directory_, ec);
  if (ec)
    throw std::runtime_error(directory_.string() + ": cannot create directory: " + ec.message());
}

fs::path ImageAnnotator::write(const cv::Mat& bgr, const fs::path& relative_name) {
  fs::path target = directory_ / relative_name;
  if (!cv::haveImageWriter(target.string())) target += ".png";
  if (prepared_.insert(target.parent_path()).second) {
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec)
      throw std::runtime_error(target.parent_path().string() +
                               ": cannot create directory: " + ec.message());
    remove_abandoned_temporaries(target.parent_path());
  }
  std::vector<std::uint8_t> encoded;
  bool encoded_ok = false;
  try {
    encoded_ok = cv::imencode(target.extension().string(), bgr, encoded);
  } catch (const cv::Exception& e) {
    throw std::runtime_error(target.string() + ": cannot encode: " + e.err);
  }
  if (!encoded_ok) throw std::runtime_error(target.string() + ": cannot encode");
  write_file_atomically(
      target, std::string_view(reinterpret_cast<const char*>(encoded.data()), encoded.size()));
  return target;
}

struct AnnotatedVideo::Writer {
  cv::VideoWriter video;
};

AnnotatedVideo::AnnotatedVideo(fs::path final_path, double fps, cv::Size frame_size)
    : final_path_(std::move(final_path)), writer_(std::make_unique<Writer>()) {
  const fs::path parent = final_path_.has_parent_path() ? final_path_.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw std::runtime_error(parent.string() + ": cannot create directory: " + ec.message());
  remove_abandoned_temporaries(parent);
  // The extension stays last: OpenCV picks the container from it.
  temporary_path_ = parent / ("." + final_path_.filename().string() + ".tmp-" +
                              std::to_string(::getpid()) + ".avi");
  const int mjpg = cv::VideoWriter::fourcc('M', 'J', 'P', 'G');
  if (!writer_->video.open(temporary_path_.string(), cv::CAP_ANY, mjpg, fps, frame_size, true))
    throw std::runtime_error(final_path_.string() +
                             ": OpenCV cannot write an MJPG .avi video here");
}

AnnotatedVideo::~AnnotatedVideo() {
  if (committed_) return;
  writer_->video.release();
  std::error_code ignored;
  fs::remove(temporary_path_, ignored);
}

void AnnotatedVideo::write(const cv::Mat& bgr) {
  writer_->video.write(bgr);
}

void AnnotatedVideo::commit() {
  writer_->video.release();  // finishes the container (index, headers)
  fsync_path(temporary_path_);
  if (std::rename(temporary_path_.c_str(), final_path_.c_str()) != 0)
    throw std::runtime_error(final_path_.string() +
                             ": cannot rename the finished video into place");
  fsync_path(final_path_.has_parent_path() ? final_path_.parent_path() : fs::path("."));
  committed_ = true;
}

}  // namespace fer
