#include "test_support.hpp"

#include <stdlib.h>

#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <stdexcept>

namespace fer::test {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "fer-test-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void write_file(const std::filesystem::path& path, const std::string& contents) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << contents;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::vector<std::uint8_t> pattern_pixels(int seed) {
  std::vector<std::uint8_t> pixels(48 * 48);
  for (int i = 0; i < 48 * 48; ++i)
    pixels[i] = static_cast<std::uint8_t>((i * (seed + 3) + seed * 17) % 256);
  return pixels;
}

std::string pixels_text(const std::vector<std::uint8_t>& pixels) {
  std::string text;
  for (std::size_t i = 0; i < pixels.size(); ++i) {
    if (i) text += ' ';
    text += std::to_string(pixels[i]);
  }
  return text;
}

std::string csv_row(int label, const std::vector<std::uint8_t>& pixels, const std::string& usage) {
  return std::to_string(label) + "," + pixels_text(pixels) + "," + usage;
}

void write_image(const std::filesystem::path& path, const std::vector<std::uint8_t>& pixels,
                 int rows, int cols, int channels) {
  std::filesystem::create_directories(path.parent_path());
  cv::Mat gray(rows, cols, CV_8UC1, const_cast<std::uint8_t*>(pixels.data()));
  cv::Mat image = gray;
  if (channels == 3) cv::cvtColor(gray, image, cv::COLOR_GRAY2BGR);
  if (!cv::imwrite(path.string(), image))
    throw std::runtime_error("cannot write image " + path.string());
}

}  // namespace fer::test
