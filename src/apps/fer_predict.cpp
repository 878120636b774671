// fer-predict: finds faces in images and videos and classifies their emotions with a
// fer-train checkpoint.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "common/command_line.hpp"
#include "common/parallel.hpp"
#include "common/tool_main.hpp"
#include "face_options.hpp"
#include "predict/cpu_threads.hpp"
#include "predict/predict_run.hpp"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  const fer::ImageLimits limits;
  CLI::App app{
      "fer-predict: finds the faces in images or videos (OpenCV's Haar cascade), crops each to\n"
      "48x48 grayscale and classifies its emotion with a fer-train checkpoint.\n"
      "  fer-predict photo.jpg                         table: file, face, box, top-3 emotions\n"
      "  fer-predict photos/ --json > faces.jsonl      directories are walked recursively, sorted\n"
      "  find . -name '*.png' | fer-predict -          paths on standard input\n"
      "  fer-predict --list paths.txt --annotate out/  copies with boxes and labels drawn\n"
      "  fer-predict --no-detect fer2013/test/         48x48 face crops, one face per image\n"
      "  fer-predict --video clip.mp4 --every 5 --json --annotate out/\n"
      "Inputs that cannot be used (missing, unreadable, not an image, truncated or corrupt,\n"
      "zero-sized, or larger than " +
      std::to_string(limits.max_side) + " px a side, " +
      std::to_string(limits.max_pixels / 1'000'000) +
      " megapixels or 1 GiB) are reported on\n"
      "stderr (and as {\"status\": \"error\"} records with --json); the others are still "
      "processed.\n"
      "Exit codes: 0 every input processed (with or without faces), 1 some input failed,\n"
      "2 usage or configuration error (bad option, no checkpoint), 3 corrupt checkpoint."};
  std::vector<std::string> inputs, list_files, videos;
  std::string checkpoint = "best", checkpoints_dir = "checkpoints";
  fer::DeviceChoice device = fer::DeviceChoice::kAuto;
  fer::InferencePrecision precision = fer::InferencePrecision::kF32;
  std::string fallback = "none", annotate_dir;
  fer::PredictOptions options;
  int threads = 0, top_k = 3;
  bool json = false, no_detect = false, quiet = false;
  std::string cascade = options.detector.cascade.string();

  app.add_option("inputs", inputs,
                 "Image files (any format OpenCV reads), directories (walked recursively: image "
                 "extensions only, hidden entries skipped, sorted), or - (paths on stdin)");
  app.add_option("--list", list_files,
                 "Text file of paths, one per line (blank lines and # comments skipped; "
                 "relative to the current directory); - reads stdin; repeatable");
  app.add_option("--video", videos,
                 "Video file (any format OpenCV's video backend reads); one report per sampled "
                 "frame, with frame index and time; repeatable");
  app.add_option("-k,--checkpoint", checkpoint,
                 "best | latest (newest run's) | run directory or name (its best.pt) | .pt file");
  app.add_option("--checkpoints-dir", checkpoints_dir, "Where runs live (for best, latest, names)");
  fer::cli::add_choice(app, "--device", device, "auto | cpu | cuda");
  fer::cli::add_choice(app, "--precision", precision, fer::kInferencePrecisionHelp);
  app.add_option("--threads", threads,
                 "Threads for the network (LibTorch) and the detector (OpenCV); 0: all cores")
      ->check(fer::cli::at_least(0));
  app.add_option("--batch", options.batch_size, "Faces per forward pass (default 64)")
      ->check(fer::cli::above(0));
  app.add_option("--top-k", top_k, "Emotions listed per face, most probable first (default 3)")
      ->check(CLI::Range(1, fer::kNumEmotions));
  app.add_flag("--json", json,
               "JSON lines: one object per face (all 7 probabilities), per image without a "
               "face, per failed input");
  app.add_option("--annotate", annotate_dir,
                 "Write copies with boxes and labels here, under the inputs' relative names "
                 "(videos: NAME.avi, MJPG)");
  app.add_flag("--no-detect", no_detect,
               "No face detection: each image (frame) is one pre-cropped face, resized to 48x48");
  app.add_option("--fallback", fallback,
                 "When no face is found: none (report it) | whole (classify the whole image)")
      ->check(CLI::IsMember({"none", "whole"}));
  fer::cli::add_face_finding_options(app, options, cascade);
  app.add_option("--every", options.every, "Videos: classify every Nth frame (default 1)")
      ->check(fer::cli::above(0));
  app.add_flag("-q,--quiet", quiet, "No model line and summary on stderr");
  if (const auto code = fer::cli::parse(app, argc, argv, "fer-predict")) return *code;

  return fer::run_tool("fer-predict", [&] {
    if (inputs.empty() && list_files.empty() && videos.empty())
      throw fer::InputError(
          "no input: give image files or directories, -, --list FILE or --video FILE (see --help)");
    options.detect = !no_detect;
    options.fallback_whole = fallback == "whole";
    options.detector.cascade = cascade;
    options.annotate_dir = annotate_dir;
    const int thread_count = fer::threads_per_process(threads);
    fer::configure_cpu_threads(thread_count);

    fer::InputSources sources;
    sources.arguments = inputs;
    sources.list_files = list_files;
    sources.exclude_directory = annotate_dir;
    const std::vector<fer::InputImage> images = fer::collect_inputs(sources, std::cin);

    fer::ClassifierOptions classifier_options;
    classifier_options.device = device;
    classifier_options.precision = precision;
    classifier_options.threads = thread_count;
    const fer::EmotionClassifier model(fer::resolve_model_checkpoint(checkpoint, checkpoints_dir),
                                       classifier_options);
    if (!quiet)
      std::fprintf(stderr, "fer-predict: %s on %s, %d thread%s, %s\n", model.describe().c_str(),
                   model.device().c_str(), thread_count, thread_count == 1 ? "" : "s",
                   options.detect ? "Haar face detection" : "no detection (whole images)");
    fer::ModelFaceClassifier classifier(model, options.batch_size);
    std::unique_ptr<fer::PredictionWriter> writer;
    if (json)
      writer = std::make_unique<fer::JsonLinesWriter>(std::cout, top_k);
    else
      writer = std::make_unique<fer::TableWriter>(std::cout, top_k);

    const auto start = std::chrono::steady_clock::now();
    fer::FacePredictor predictor(classifier, options, *writer, std::cerr);
    if (!images.empty()) predictor.predict_images(images);
    for (const std::string& video : videos) predictor.predict_video(video);
    std::cout.flush();
    if (!std::cout) throw std::runtime_error("standard output: write failed");

    const fer::PredictSummary& summary = predictor.summary();
    if (!quiet) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::fprintf(stderr, "fer-predict: %s; %.2f s\n", fer::describe(summary).c_str(), seconds);
    }
    return summary.failed > 0 ? fer::kExitFailure : fer::kExitOk;
  });
}
