#pragma once
// fer-predict's work, image by image and frame by frame: load (image_loading), find
// and crop the faces (face_detector), queue them for batched classification
// (face_classifier), then report each input in order (prediction_output) and write its
// annotated copy (annotation). An input that cannot be used is reported on the error
// stream and as an error record, counted, and the run goes on.

#include <cstddef>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "predict/face_classifier.hpp"
#include "predict/face_finder.hpp"
#include "predict/image_loading.hpp"
#include "predict/input_walk.hpp"
#include "predict/prediction_output.hpp"

namespace fer {

// The face finding options (detect, detector, margin, fallback_whole) and the rest.
struct PredictOptions : FaceFinderOptions {
  int batch_size = 64;  // faces per forward pass
  ImageLimits limits;
  std::filesystem::path annotate_dir;                   // empty: no annotated copies
  int every = 1;                                        // videos: classify frames 0, N, 2N, ...
  std::size_t max_held_bytes = std::size_t{256} << 20;  // pictures waiting for annotation
  std::string error_prefix = "fer-predict: error: ";
};

struct PredictSummary {
  std::size_t images = 0;        // image files reported (failed ones included)
  std::size_t videos = 0;        // video files (failed ones included)
  std::size_t frames = 0;        // sampled video frames reported
  std::size_t faces = 0;         // faces classified
  std::size_t without_face = 0;  // inputs with no face (and no fallback)
  std::size_t failed = 0;        // inputs (or annotated copies) that failed
};

// "3 images, 1 video (12 sampled frames), 14 faces, 1 without a face, 0 failed".
std::string describe(const PredictSummary& summary);

class FacePredictor {
 public:
  // Loads the cascade when options.detect (throws InputError if it cannot).
  FacePredictor(FaceClassifier& classifier, PredictOptions options, PredictionWriter& writer,
                std::ostream& errors);
  ~FacePredictor();
  FacePredictor(const FacePredictor&) = delete;
  FacePredictor& operator=(const FacePredictor&) = delete;

  void predict_images(const std::vector<InputImage>& inputs);
  // Any file OpenCV's video backends read; one report per sampled frame.
  void predict_video(const std::filesystem::path& video);

  const PredictSummary& summary() const { return summary_; }

 private:
  void report(PendingImage& image);
  void report_error(const std::string& source, const std::string& reason);

  FaceClassifier& classifier_;
  PredictOptions options_;
  PredictionWriter& writer_;
  std::ostream& errors_;
  FaceFinder faces_;
  PredictSummary summary_;
};

}  // namespace fer
