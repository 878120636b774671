#pragma once
// Annotated copies (--annotate DIR): each face's box and its most probable emotion
// drawn on the image, written under the input's relative name; for a video, an
// annotated MJPG .avi. Nothing appears half-written under its final name: images go
// through write_file_atomically (temporary, fsync, rename) and a video is written to
// a temporary name that is renamed into place only when complete.

#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>
#include <set>

#include "predict/prediction.hpp"

namespace fer {

// Draws boxes and labels ("Happy 91%") on a BGR image, sized to the image.
void draw_predictions(cv::Mat& bgr, const ImagePrediction& image);

class ImageAnnotator {
 public:
  // Creates `directory`; removes temporaries a killed earlier run left there.
  explicit ImageAnnotator(std::filesystem::path directory);
  // Writes `bgr` as directory/relative_name, in the format of its extension when OpenCV
  // can write that format (else PNG, ".png" appended). Returns the path written; throws
  // std::runtime_error naming it on failure.
  std::filesystem::path write(const cv::Mat& bgr, const std::filesystem::path& relative_name);

 private:
  std::filesystem::path directory_;
  std::set<std::filesystem::path> prepared_;  // subdirectories created and cleaned
};

// An annotated video written to `.NAME.tmp-PID.avi` beside `final_path`; commit()
// renames it into place. Destroyed without commit(), it removes the temporary.
class AnnotatedVideo {
 public:
  AnnotatedVideo(std::filesystem::path final_path, double fps, cv::Size frame_size);
  ~AnnotatedVideo();
  AnnotatedVideo(const AnnotatedVideo&) = delete;
  AnnotatedVideo& operator=(const AnnotatedVideo&) = delete;

  void write(const cv::Mat& bgr);
  void commit();

 private:
  struct Writer;
  std::filesystem::path final_path_, temporary_path_;
  std::unique_ptr<Writer> writer_;
  bool committed_ = false;
};

}  // namespace fer
