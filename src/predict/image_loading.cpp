#include "predict/image_loading.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <vector>

#include "predict/image_header.hpp"

namespace fer {
namespace fs = std::filesystem;

namespace {

std::string byte_size_text(std::uintmax_t bytes) {
  char text[32];
  if (bytes >= (std::uintmax_t{1} << 30))
    std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / (1 << 30));
  else
    std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

std::vector<std::uint8_t> read_bytes(const fs::path& path, const ImageLimits& limits) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) throw ImageError("no such file");
  if (fs::is_directory(status)) throw ImageError("is a directory");
  if (!fs::is_regular_file(status)) throw ImageError("not a regular file");
  const std::uintmax_t size = fs::file_size(path, ec);
  if (ec) throw ImageError("cannot read: " + ec.message());
  if (size == 0) throw ImageError("empty file (0 bytes)");
  if (size > limits.max_file_bytes)
    throw ImageError("file of " + byte_size_text(size) + " exceeds the limit of " +
                     byte_size_text(limits.max_file_bytes));

  std::ifstream in(path, std::ios::binary);
  if (!in) throw ImageError(std::string("cannot open: ") + std::strerror(errno));
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (in.gcount() != static_cast<std::streamsize>(size))
    throw ImageError(std::string("cannot read: ") + std::strerror(errno));
  return bytes;
}

}  // namespace

std::string describe(const ImageLimits& limits) {
  return "at most " + std::to_string(limits.max_side) + " px a side and " +
         std::to_string(limits.max_pixels / 1'000'000) + " megapixels";
}

void check_image_size(std::int64_t width, std::int64_t height, const ImageLimits& limits,
                      const std::string& what) {
  const std::string size = std::to_string(width) + "x" + std::to_string(height);
  if (width <= 0 || height <= 0) throw ImageError("zero-sized " + what + " (" + size + ")");
  // Both sides are at most max_side here, so the product cannot overflow.
  if (width > limits.max_side || height > limits.max_side || width * height > limits.max_pixels)
    throw ImageError(size + " " + what + " exceeds the size limit (" + describe(limits) + ")");
}

namespace {

// `path` (may be empty) only sharpens the message when the decoder fails.
cv::Mat decode(const std::uint8_t* data, std::size_t size, const ImageLimits& limits,
               const fs::path& path) {
  if (size == 0) throw ImageError("empty (0 bytes)");
  if (size > limits.max_file_bytes)
    throw ImageError(byte_size_text(size) + " exceeds the limit of " +
                     byte_size_text(limits.max_file_bytes));
  const std::optional<ImageHeader> header = read_image_header(data, size);
  if (header) {
    if (header->format == "JPEG" && !header->complete)
      throw ImageError("truncated or damaged JPEG (no end-of-image marker after the image data)");
    if (header->format == "PNG" && !header->complete)
      throw ImageError("truncated PNG (the data ends before the IEND chunk)");
    if (!header->complete) throw ImageError("truncated " + header->format + " header");
    if (header->width && header->height)
      check_image_size(*header->width, *header->height, limits, header->format + " image");
  }
  if (size > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw ImageError("larger than OpenCV's decoder takes (2 GiB)");

  cv::Mat image;
  try {
    image = cv::imdecode(cv::Mat(1, static_cast<int>(size), CV_8U, const_cast<std::uint8_t*>(data)),
                         cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    throw ImageError("cannot decode: " + e.err);
  }
  if (image.empty()) {
    const bool decodable = path.empty() || cv::haveImageReader(path.string());
    if (header && decodable)
      throw ImageError("corrupt or truncated " + header->format +
                       " image (OpenCV could not decode it)");
    if (header) throw ImageError(header->format + " images cannot be read by this OpenCV build");
    throw ImageError("not an image (no OpenCV decoder recognises the contents)");
  }
  check_image_size(image.cols, image.rows, limits, "image");
  return image;
}

}  // namespace

cv::Mat load_image(const fs::path& path, const ImageLimits& limits) {
  const std::vector<std::uint8_t> bytes = read_bytes(path, limits);
  return decode(bytes.data(), bytes.size(), limits, path);
}

cv::Mat decode_image(const std::uint8_t* data, std::size_t size, const ImageLimits& limits) {
  return decode(data, size, limits, {});
}

cv::Mat to_gray(const cv::Mat& picture) {
  if (picture.channels() == 1) return picture;
  cv::Mat gray;
  cv::cvtColor(picture, gray, picture.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
  return gray;
}

cv::Mat to_bgr(const cv::Mat& picture) {
  if (picture.channels() == 3) return picture;
  cv::Mat bgr;
  cv::cvtColor(picture, bgr, picture.channels() == 4 ? cv::COLOR_BGRA2BGR : cv::COLOR_GRAY2BGR);
  return bgr;
}

}  // namespace fer
