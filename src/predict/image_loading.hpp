#pragma once
// Reading one input image for fer-predict, with every way it can be bad turned into a
// one-line reason: missing, unreadable, empty, not an image, truncated or corrupt, zero
// sized, or absurdly large. The size limits are checked on the file size and on the
// dimensions in the header (image_header.hpp) before any pixel is decoded, so a
// decompression bomb costs nothing; formats without a parsed header are checked after
// decoding (OpenCV caps those at 2^30 pixels itself).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <opencv2/core.hpp>
#include <string>

#include "common/error.hpp"

namespace fer {

// One input cannot be used; the run reports it and goes on with the others. The
// message says why, without the file name (the caller adds it).
class ImageError : public InputError {
 public:
  using InputError::InputError;
};

struct ImageLimits {
  std::uintmax_t max_file_bytes = std::uintmax_t{1} << 30;  // 1 GiB
  std::int64_t max_side = 20000;                            // pixels, either side
  std::int64_t max_pixels = 100'000'000;                    // 100 megapixels
};
// "at most 20000 px a side and 100 megapixels".
std::string describe(const ImageLimits& limits);

// The decoded image, always 8-bit BGR (EXIF orientation applied): the one decode
// path, so a face's grayscale pixels, and with them its prediction, do not depend on
// whether an annotated copy is wanted (libjpeg's own grayscale decoding rounds
// differently from BGR -> gray). Throws ImageError.
cv::Mat load_image(const std::filesystem::path& path, const ImageLimits& limits);
// The same for an image in memory (fer-serve's request bodies): the same header checks,
// limits and decoder, so a file and its bytes give the same pixels.
cv::Mat decode_image(const std::uint8_t* data, std::size_t size, const ImageLimits& limits);

// 8-bit grayscale (what the detector and the model see) and 8-bit BGR (what annotation
// draws on) of a decoded picture with 1, 3 or 4 channels; the picture itself when it
// already is.
cv::Mat to_gray(const cv::Mat& picture);
cv::Mat to_bgr(const cv::Mat& picture);

// Throws ImageError when width x height is zero or over the limits (also used for
// video frames). `what` names the thing in the message ("PNG image", "frame").
void check_image_size(std::int64_t width, std::int64_t height, const ImageLimits& limits,
                      const std::string& what);

}  // namespace fer
