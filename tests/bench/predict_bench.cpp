// fer-bench-predict: fer-predict's per-call latency and batched throughput in one
// process, through the same code path as the tool (FacePredictor: load the file,
// find or take the face, eval views, forward pass, report). Prints figures; not a test.
//   fer-bench-predict -k CHECKPOINT --face face48.png --photo photo.png --faces-dir DIR
//                     [--repeat 200] [--threads N] [--batch 256] [--passes 3]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>

#include "common/command_line.hpp"
#include "common/tool_main.hpp"
#include "predict/cpu_threads.hpp"
#include "predict/predict_run.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// Counts what it is given, so the work cannot be optimised away and failures show.
class CountingWriter : public fer::PredictionWriter {
 public:
  void write(const fer::ImagePrediction& image) override {
    faces += image.faces.size();
    failed += image.failed() ? 1 : 0;
  }
  std::size_t faces = 0, failed = 0;
};

// Uniform probabilities without a network: what fer-predict's own work costs.
class NoNetwork : public fer::FaceClassifier {
 public:
  void classify(const std::vector<cv::Mat>& faces, std::vector<fer::Probabilities>& out) override {
    out.assign(faces.size(), fer::Probabilities{});
    for (auto& p : out) p.fill(1.0 / fer::kNumEmotions);
  }
};

double percentile(std::vector<double> values, double fraction) {
  std::sort(values.begin(), values.end());
  const auto index =
      static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1) + 0.5);
  return values[index];
}

// Milliseconds per call of predict_images on one file, `repeat` times after a warm-up.
void latency(fer::FaceClassifier& classifier, const fer::PredictOptions& options,
             const std::string& file, int repeat, const char* what) {
  CountingWriter writer;
  std::ostringstream errors;
  fer::FacePredictor predictor(classifier, options, writer, errors);
  const std::vector<fer::InputImage> input = {fer::InputImage{file, "x.png", {}}};
  for (int i = 0; i < 10; ++i) predictor.predict_images(input);  // warm-up: allocations, caches
  std::vector<double> milliseconds;
  for (int i = 0; i < repeat; ++i) {
    const auto start = Clock::now();
    predictor.predict_images(input);
    milliseconds.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::printf(
      "  %-44s p50 %7.2f ms   p90 %7.2f ms   p99 %7.2f ms   (%d calls, %zu faces, %zu failed)\n",
      what, percentile(milliseconds, 0.5), percentile(milliseconds, 0.9),
      percentile(milliseconds, 0.99), repeat, writer.faces / (repeat + 10), writer.failed);
}

// The network alone (EmotionClassifier::logits on ready views), to tell the forward
// pass from fer-predict's own work around it.
void forward_only(const fer::EmotionClassifier& model, int batch, int repeat) {
  const int side = model.input_side();
  std::vector<float> views(static_cast<std::size_t>(batch) * side * side, 0.1f);
  std::vector<float> logits(static_cast<std::size_t>(batch) * fer::kNumEmotions);
  for (int i = 0; i < 3; ++i) model.logits(views.data(), batch, 1, logits.data());
  std::vector<double> milliseconds;
  for (int i = 0; i < repeat; ++i) {
    const auto start = Clock::now();
    model.logits(views.data(), batch, 1, logits.data());
    milliseconds.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  const double p50 = percentile(milliseconds, 0.5);
  std::printf("  %-44s p50 %7.2f ms   = %7.0f faces/s\n",
              ("forward pass only, batch " + std::to_string(batch)).c_str(), p50,
              1000.0 * batch / p50);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fer-predict latency and throughput"};
  std::string checkpoint, face, photo, faces_dir;
  int repeat = 200, threads = 0, blas_threads = 1, batch = 256, passes = 3;
  app.add_option("-k,--checkpoint", checkpoint)->required();
  app.add_option("--face", face, "A 48x48 face image (latency without detection)");
  app.add_option("--photo", photo, "A photo with one face (latency with detection)");
  app.add_option("--faces-dir", faces_dir, "Pre-cropped faces (batched throughput)");
  app.add_option("--repeat", repeat);
  app.add_option("--threads", threads);
  app.add_option("--blas-threads", blas_threads, "OpenBLAS threads (fer-predict: 1)");
  app.add_option("--batch", batch);
  app.add_option("--passes", passes);
  bool aten = false;
  fer::InferencePrecision precision = fer::InferencePrecision::kF32;
  fer::cli::add_choice(app, "--precision", precision, "f32 | bf16 (the inference kernels)");
  app.add_flag("--aten", aten,
               "LibTorch's layers instead of the inference kernels (the reference)");
  CLI11_PARSE(app, argc, argv);

  return fer::run_tool("fer-bench-predict", [&] {
    fer::ClassifierOptions classifier_options;
    classifier_options.threads = threads;
    classifier_options.inference_kernels = !aten;
    classifier_options.precision = precision;
    fer::configure_cpu_threads(threads > 0 ? threads : cv::getNumberOfCPUs(), blas_threads);
    const fer::EmotionClassifier model(checkpoint, classifier_options);
    std::printf("model %s, %s, %d thread(s)\n", model.describe().c_str(), model.device().c_str(),
                threads > 0 ? threads : cv::getNumThreads());
    std::printf("OpenBLAS threads: %d; CNN on %s\n", blas_threads,
                aten                                          ? "LibTorch's layers (--aten)"
                : precision == fer::InferencePrecision::kBf16 ? "the inference kernels, bf16"
                                                              : "the inference kernels, f32");

    forward_only(model, 1, repeat);
    forward_only(model, batch, std::max(3, repeat / 20));

    fer::PredictOptions single;
    single.batch_size = 1;
    if (!face.empty()) {
      fer::ModelFaceClassifier classifier(model, 1);
      single.detect = false;
      latency(classifier, single, face, repeat, "one 48x48 face, --no-detect");
    }
    if (!photo.empty()) {
      fer::ModelFaceClassifier classifier(model, 1);
      single.detect = true;
      const cv::Mat size = cv::imread(photo);
      const std::string what =
          "one " + std::to_string(size.cols) + "x" + std::to_string(size.rows) + " photo, Haar";
      for (double scale_factor : {1.1, 1.2}) {  // the default, and the faster option
        single.detector.scale_factor = scale_factor;
        char label[96];
        std::snprintf(label, sizeof label, "%s --scale-factor %.1f", what.c_str(), scale_factor);
        latency(classifier, single, photo, repeat, label);
      }
    }
    if (!faces_dir.empty()) {
      fer::InputSources sources;
      sources.arguments = {faces_dir};
      std::istringstream no_stdin;
      const std::vector<fer::InputImage> inputs = fer::collect_inputs(sources, no_stdin);
      fer::ModelFaceClassifier classifier(model, batch);
      fer::PredictOptions batched;
      batched.detect = false;
      batched.batch_size = batch;
      NoNetwork no_network;
      const auto faces_per_second = [&](fer::FaceClassifier& faces_to_probabilities) {
        std::vector<double> rates;
        for (int pass = 0; pass < passes; ++pass) {
          CountingWriter writer;
          std::ostringstream errors;
          fer::FacePredictor predictor(faces_to_probabilities, batched, writer, errors);
          const auto start = Clock::now();
          predictor.predict_images(inputs);
          const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
          rates.push_back(static_cast<double>(writer.faces) / seconds);
          if (writer.failed) throw std::runtime_error(errors.str());
        }
        return percentile(rates, 0.5);
      };
      std::printf("  %-44s %7.0f faces/s (median of %d passes over %zu files; batch %d)\n",
                  "pre-cropped faces, --no-detect, batched", faces_per_second(classifier), passes,
                  inputs.size(), batch);
      std::printf("  %-44s %7.0f faces/s (the same without the network)\n", "",
                  faces_per_second(no_network));
    }
    return 0;
  });
}
