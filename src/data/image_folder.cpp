#include "data/image_folder.hpp"

#include <algorithm>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.hpp"
#include "common/parallel.hpp"
#include "common/text.hpp"
#include "data/image_files.hpp"

namespace fer {
namespace fs = std::filesystem;
namespace {

std::optional<Split> split_from_prefix(const std::string& file_name) {
  if (file_name.rfind("Training_", 0) == 0) return Split::kTrain;
  if (file_name.rfind("PublicTest_", 0) == 0) return Split::kVal;
  if (file_name.rfind("PrivateTest_", 0) == 0) return Split::kTest;
  return std::nullopt;
}

struct FolderItem {
  fs::path path;
  std::string relative;
  std::uint8_t label;
  Split split;
  bool split_by_draw;  // no prefix, in train/: decided by the stratified draw
};

std::vector<fs::path> sorted_children(const fs::path& dir) {
  std::vector<fs::path> children;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    children.push_back(it->path());
  if (ec) throw InputError(dir.string() + ": cannot list directory: " + ec.message());
  std::sort(children.begin(), children.end());
  return children;
}

}  // namespace

std::string decode_face_image(const std::vector<unsigned char>& encoded, std::uint8_t* out,
                              bool& converted) {
  if (encoded.empty()) return "empty file";
  cv::Mat image;
  try {
    image = cv::imdecode(encoded, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    return std::string("cannot decode image: ") + e.what();
  }
  if (image.empty() || image.rows == 0 || image.cols == 0)
    return "not a readable image (corrupt, truncated, or not an image format OpenCV decodes)";
  converted = false;
  if (image.channels() != 1) {
    cv::Mat gray;
    cv::cvtColor(image, gray, image.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
    image = gray;
    converted = true;
  }
  if (image.depth() != CV_8U) {
    cv::Mat eight_bit;
    image.convertTo(eight_bit, CV_8U, image.depth() == CV_16U ? 1.0 / 257.0 : 1.0);
    image = eight_bit;
    converted = true;
  }
  cv::Mat target(kImageSide, kImageSide, CV_8UC1, out);
  if (image.rows != kImageSide || image.cols != kImageSide) {
    const bool shrinking = image.rows > kImageSide || image.cols > kImageSide;
    cv::resize(image, target, target.size(), 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
    converted = true;
  } else {
    image.copyTo(target);
  }
  return {};
}

ImageSet read_image_folder(const fs::path& root, const IngestOptions& options,
                           IngestReport& report) {
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    throw InputError(root.string() +
                     ": not a directory (expected the image-folder edition: "
                     "train/<class>/*.jpg, test/<class>/*.jpg)");
  std::vector<FolderItem> items;
  bool any_split_folder = false;
  for (const fs::path& split_dir : sorted_children(root)) {
    if (is_hidden_entry(split_dir) || !fs::is_directory(split_dir)) continue;
    const auto folder_split = split_from_name(split_dir.filename().string());
    if (!folder_split)
      throw InputError(split_dir.string() +
                       ": unexpected folder; the image-folder edition has "
                       "train/, test/ (and optionally val/) directly under " +
                       root.string());
    any_split_folder = true;
    for (const fs::path& class_dir : sorted_children(split_dir)) {
      if (is_hidden_entry(class_dir)) continue;
      if (!fs::is_directory(class_dir)) {
        ++report.ignored_files;
        continue;
      }
      const auto label = emotion_from_name(class_dir.filename().string());
      if (!label) {
        report.invalid.reject(
            class_dir.string() + ": '" + class_dir.filename().string() +
            "' is not a FER2013 class folder; expected one of: " + accepted_emotion_names());
        continue;
      }
      for (const fs::path& file : sorted_children(class_dir)) {
        if (is_hidden_entry(file) || !fs::is_regular_file(file) || !has_image_extension(file)) {
          if (!is_hidden_entry(file)) ++report.ignored_files;
          continue;
        }
        const auto prefix_split = split_from_prefix(file.filename().string());
        FolderItem item{file, fs::relative(file, root).generic_string(), *label,
                        prefix_split.value_or(*folder_split),
                        !prefix_split && *folder_split == Split::kTrain};
        items.push_back(std::move(item));
      }
    }
  }
  if (!any_split_folder)
    throw InputError(root.string() +
                     ": no train/ or test/ folder found (expected the "
                     "image-folder edition: train/<class>/*.jpg, test/<class>/*.jpg)");
  if (items.empty())
    throw InputError(root.string() + ": no image files found under train/ or test/");

  // Decode in parallel into fixed slots; report errors in path order afterwards.
  std::vector<std::uint8_t> pixels(items.size() * kImagePixels);
  std::vector<std::string> errors(items.size());
  std::vector<char> converted(items.size(), 0);
  const unsigned threads = options.threads ? options.threads : default_thread_count();
  parallel_for(items.size(), threads, [&](std::size_t begin, std::size_t end) {
    cv::setNumThreads(1);  // our own threads already use every core
    std::vector<unsigned char> encoded;
    for (std::size_t i = begin; i < end; ++i) {
      std::ifstream in(items[i].path, std::ios::binary | std::ios::ate);
      if (!in) {
        errors[i] = "cannot open file";
        continue;
      }
      encoded.resize(static_cast<std::size_t>(in.tellg()));
      in.seekg(0);
      if (!in.read(reinterpret_cast<char*>(encoded.data()),
                   static_cast<std::streamsize>(encoded.size()))) {
        errors[i] = "read error";
        continue;
      }
      bool was_converted = false;
      errors[i] = decode_face_image(encoded, pixels.data() + i * kImagePixels, was_converted);
      converted[i] = was_converted;
    }
  });

  ImageSet images;
  images.pixels.reserve(pixels.size());
  std::vector<std::size_t> drawn;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!errors[i].empty()) {
      report.invalid.reject(items[i].path.string() + ": " + errors[i]);
      continue;
    }
    report.converted += static_cast<std::size_t>(converted[i]);
    std::uint8_t* slot = images.append(items[i].label, items[i].split, items[i].relative);
    std::copy_n(pixels.data() + i * kImagePixels, kImagePixels, slot);
    if (items[i].split_by_draw) drawn.push_back(images.size() - 1);
  }
  report.split_for_val = split_off_validation(images, drawn, options.val_fraction, options.seed);
  report.input_format = "folder";
  return images;
}

}  // namespace fer
