// The confusion matrix as a labelled heat map (fer-eval --out): rows are the true
// classes, columns the predicted ones; a cell's colour is its share of the row (so
// rare classes such as Disgust are as readable as Happy), its text the count and
// the percentage.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/atomic_output.hpp"
#include "common/error.hpp"
#include "evaluation/split_evaluation.hpp"

namespace fer {
namespace {

constexpr int kCell = 84;    // pixels per cell
constexpr int kLeft = 120;   // room for the row labels
constexpr int kTop = 70;     // title
constexpr int kBottom = 90;  // column labels and axis title
constexpr int kRight = 30;
const int kFont = cv::FONT_HERSHEY_SIMPLEX;

// White (0) to dark blue (1).
cv::Scalar heat(double share) {
  const double s = std::clamp(share, 0.0, 1.0);
  return {255 - 120 * s, 255 - 200 * s, 255 - 235 * s};  // BGR
}

void centred_text(cv::Mat& image, const std::string& text, cv::Point centre, double scale,
                  cv::Scalar colour, int thickness = 1) {
  int baseline = 0;
  const cv::Size size = cv::getTextSize(text, kFont, scale, thickness, &baseline);
  cv::putText(image, text, {centre.x - size.width / 2, centre.y + size.height / 2}, kFont, scale,
              colour, thickness, cv::LINE_AA);
}

}  // namespace

void write_confusion_png(const EvaluationReport& report, const std::filesystem::path& file) {
  const int n = kNumEmotions;
  cv::Mat image(kTop + n * kCell + kBottom, kLeft + n * kCell + kRight, CV_8UC3,
                cv::Scalar(255, 255, 255));
  char title[160];
  std::snprintf(title, sizeof title, "%s split: %lld images, accuracy %.2f%%", report.split.c_str(),
                static_cast<long long>(report.images), 100 * report.accuracy());
  centred_text(image, title, {image.cols / 2, 25}, 0.6, {0, 0, 0}, 1);
  centred_text(image, "predicted", {kLeft + n * kCell / 2, kTop + n * kCell + 60}, 0.55,
               {60, 60, 60});
  for (int t = 0; t < n; ++t) {
    std::int64_t support = 0;
    for (int p = 0; p < n; ++p) support += report.matrix.count(t, p);
    const std::string name(kEmotionNames[static_cast<std::size_t>(t)]);
    centred_text(image, name, {kLeft / 2, kTop + t * kCell + kCell / 2}, 0.55, {0, 0, 0});
    centred_text(image, name, {kLeft + t * kCell + kCell / 2, kTop + n * kCell + 22}, 0.5,
                 {0, 0, 0});
    for (int p = 0; p < n; ++p) {
      const std::int64_t count = report.matrix.count(t, p);
      const double share =
          support ? static_cast<double>(count) / static_cast<double>(support) : 0.0;
      const cv::Rect cell(kLeft + p * kCell, kTop + t * kCell, kCell, kCell);
      cv::rectangle(image, cell, heat(share), cv::FILLED);
      cv::rectangle(image, cell, {200, 200, 200}, 1);
      const cv::Scalar ink = share > 0.5 ? cv::Scalar(255, 255, 255) : cv::Scalar(0, 0, 0);
      char percent[16];
      std::snprintf(percent, sizeof percent, "%.1f%%", 100 * share);
      centred_text(image, std::to_string(count), {cell.x + kCell / 2, cell.y + kCell / 2 - 11},
                   0.55, ink, share > 0.5 ? 2 : 1);
      centred_text(image, percent, {cell.x + kCell / 2, cell.y + kCell / 2 + 13}, 0.42, ink);
    }
  }
  // "true" written vertically along the row labels.
  cv::Mat label(24, 60, CV_8UC3, cv::Scalar(255, 255, 255));
  centred_text(label, "true", {30, 12}, 0.55, {60, 60, 60});
  cv::rotate(label, label, cv::ROTATE_90_COUNTERCLOCKWISE);
  label.copyTo(image(cv::Rect(2, kTop + n * kCell / 2 - 30, label.cols, label.rows)));

  std::vector<unsigned char> png;
  if (!cv::imencode(".png", image, png))
    throw std::runtime_error(file.string() + ": OpenCV could not encode the PNG");
  write_file_atomically(file, std::string(png.begin(), png.end()));
}

}  // namespace fer
