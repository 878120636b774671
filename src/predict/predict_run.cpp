#include "predict/predict_run.hpp"

#include <cmath>
#include <new>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <optional>
#include <ostream>

#include "predict/annotation.hpp"

namespace fer {
namespace fs = std::filesystem;

namespace {

// OpenCV logs every video backend that fails to open a file (GStreamer, image
// sequences, ...) as an error of its own; fer-predict reports one line instead.
class QuietOpenCvLog {
 public:
  QuietOpenCvLog()
      : previous_(cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT)) {}
  ~QuietOpenCvLog() { cv::utils::logging::setLogLevel(previous_); }
  QuietOpenCvLog(const QuietOpenCvLog&) = delete;
  QuietOpenCvLog& operator=(const QuietOpenCvLog&) = delete;

 private:
  cv::utils::logging::LogLevel previous_;
};

// The timestamp of the frame just read, from the backend's position (exact for
// variable frame rates). Videos whose first frame is stamped later than 0 (MP4s
// with a composition offset: frame 0 at 1/fps) are counted from their first frame;
// index / fps stands in when the backend does not know the position.
double frame_time(double milliseconds, std::int64_t index, double fps) {
  if (std::isfinite(milliseconds) && milliseconds >= 0 && (milliseconds > 0 || index == 0))
    return milliseconds / 1000.0;
  return fps > 0 ? static_cast<double>(index) / fps : 0.0;
}

}  // namespace

std::string describe(const PredictSummary& summary) {
  const auto count = [](std::size_t n, const char* singular, const char* plural) {
    return std::to_string(n) + " " + (n == 1 ? singular : plural);
  };
  std::string text = count(summary.images, "image", "images");
  if (summary.videos > 0)
    text += ", " + count(summary.videos, "video", "videos") + " (" +
            count(summary.frames, "sampled frame", "sampled frames") + ")";
  return text + ", " + count(summary.faces, "face", "faces") + ", " +
         std::to_string(summary.without_face) + " without a face, " +
         std::to_string(summary.failed) + " failed";
}

FacePredictor::FacePredictor(FaceClassifier& classifier, PredictOptions options,
                             PredictionWriter& writer, std::ostream& errors)
    : classifier_(classifier),
      options_(std::move(options)),
      writer_(writer),
      errors_(errors),
      faces_(options_) {
  if (options_.every < 1) throw InputError("--every must be >= 1");
}

FacePredictor::~FacePredictor() = default;

void FacePredictor::report_error(const std::string& source, const std::string& reason) {
  errors_ << options_.error_prefix << source << ": " << reason << std::endl;
  ++summary_.failed;
}

void FacePredictor::report(PendingImage& image) {
  if (!image.report) return;
  const ImagePrediction& prediction = image.prediction;
  ++(prediction.frame ? summary_.frames : summary_.images);
  if (prediction.failed())
    report_error(prediction.source, prediction.error);
  else if (prediction.faces.empty())
    ++summary_.without_face;
  summary_.faces += prediction.faces.size();
  writer_.write(prediction);
}

void FacePredictor::predict_images(const std::vector<InputImage>& inputs) {
  const bool annotate = !options_.annotate_dir.empty();
  std::optional<ImageAnnotator> annotator;
  if (annotate) annotator.emplace(options_.annotate_dir);
  PredictionQueue queue(classifier_, static_cast<std::size_t>(options_.batch_size),
                        options_.max_held_bytes, [&](PendingImage& image) {
                          report(image);
                          if (!annotator || image.prediction.failed()) return;
                          try {
                            cv::Mat& picture = image.picture;
                            draw_predictions(picture, image.prediction);
                            annotator->write(picture, image.annotation_name);
                          } catch (const std::exception& e) {
                            report_error(image.prediction.source,
                                         std::string("annotated copy: ") + e.what());
                          }
                        });
  for (const InputImage& input : inputs) {
    PendingImage image;
    image.prediction.source = input.path.string();
    image.annotation_name = input.relative;
    try {
      if (!input.error.empty()) throw ImageError(input.error);
      const cv::Mat picture = load_image(input.path, options_.limits);
      faces_.find(to_gray(picture), image.prediction, image.crops);
      if (annotate) image.picture = to_bgr(picture);
    } catch (const ImageError& e) {
      image.prediction.error = e.what();
    } catch (const cv::Exception& e) {
      image.prediction.error = "OpenCV: " + e.err;
    } catch (const std::bad_alloc&) {
      image.prediction.error = "out of memory while decoding";
    }
    if (image.prediction.failed()) {
      image.crops.clear();
      image.prediction.faces.clear();
      image.picture.release();
    }
    queue.push(std::move(image));
  }
  queue.flush();
}

void FacePredictor::predict_video(const fs::path& video) {
  const std::string source = video.string();
  ++summary_.videos;
  const auto fail = [&](const std::string& reason) {
    ImagePrediction failed;
    failed.source = source;
    failed.error = reason;
    report_error(source, reason);
    writer_.write(failed);
  };
  std::error_code ec;
  if (!fs::exists(video, ec)) return fail("no such file");
  if (!fs::is_regular_file(video, ec)) return fail("not a regular file");
  cv::VideoCapture capture;
  try {
    const QuietOpenCvLog quiet;
    capture.open(source);
  } catch (const cv::Exception& e) {
    return fail("cannot open as a video: " + e.err);
  }
  if (!capture.isOpened()) return fail("cannot open as a video (no OpenCV video backend reads it)");
  const double reported_fps = capture.get(cv::CAP_PROP_FPS);
  const double fps =
      std::isfinite(reported_fps) && reported_fps > 0 && reported_fps < 1000 ? reported_fps : 0.0;

  const bool annotate = !options_.annotate_dir.empty();
  std::unique_ptr<AnnotatedVideo> annotated;
  std::vector<FacePrediction> shown_faces;  // the latest sampled frame's, drawn on the next ones
  PredictionQueue queue(classifier_, static_cast<std::size_t>(options_.batch_size),
                        options_.max_held_bytes, [&](PendingImage& frame) {
                          report(frame);
                          if (!annotated) return;
                          if (frame.report) shown_faces = frame.prediction.faces;
                          ImagePrediction shown = frame.prediction;
                          shown.faces = shown_faces;
                          draw_predictions(frame.picture, shown);
                          annotated->write(frame.picture);
                        });
  std::int64_t index = 0;
  double first_frame_ms = 0;
  try {
    for (;; ++index) {
      const bool sampled = index % options_.every == 0;
      if (!sampled && !annotate) {  // skipped frames are not decoded
        if (!capture.grab()) break;
        continue;
      }
      cv::Mat picture;  // fresh each frame: a queued frame must not be overwritten
      if (!capture.read(picture) || picture.empty()) break;
      const double position_ms = capture.get(cv::CAP_PROP_POS_MSEC);
      if (index == 0) first_frame_ms = std::isfinite(position_ms) ? position_ms : 0;
      if (index == 0) {
        check_image_size(picture.cols, picture.rows, options_.limits, "video frame");
        if (annotate) {
          const fs::path target = options_.annotate_dir / (video.stem().string() + ".avi");
          annotated = std::make_unique<AnnotatedVideo>(target, fps > 0 ? fps : 25.0,
                                                       cv::Size(picture.cols, picture.rows));
        }
      }
      PendingImage frame;
      frame.report = sampled;
      frame.prediction.source = source;
      frame.prediction.frame = index;
      frame.prediction.time_seconds = frame_time(position_ms - first_frame_ms, index, fps);
      if (frame.report) faces_.find(to_gray(picture), frame.prediction, frame.crops);
      if (annotate) frame.picture = to_bgr(picture);
      queue.push(std::move(frame));
    }
    queue.flush();
    if (index == 0) return fail("no frame could be read (not a video, or damaged)");
    if (annotated) annotated->commit();
  } catch (const ImageError& e) {
    return fail(e.what());
  } catch (const cv::Exception& e) {
    return fail("OpenCV: " + e.err);
  } catch (const std::runtime_error& e) {  // the annotated video could not be written
    report_error(source, std::string("annotated video: ") + e.what());
  }
}

}  // namespace fer
