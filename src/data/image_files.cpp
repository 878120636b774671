#include "data/image_files.hpp"

#include <algorithm>
#include <array>
#include <string>

#include "common/text.hpp"

namespace fer {

bool has_image_extension(const std::filesystem::path& path) {
  static constexpr std::array<const char*, 21> kExtensions = {
      ".bmp", ".dib", ".jpg", ".jpeg", ".jpe", ".jp2", ".png",  ".webp", ".pbm", ".pgm", ".ppm",
      ".pxm", ".pnm", ".pfm", ".sr",   ".ras", ".tif", ".tiff", ".exr",  ".hdr", ".pic"};
  const std::string extension = to_lower(path.extension().string());
  return std::find(kExtensions.begin(), kExtensions.end(), extension) != kExtensions.end();
}

bool is_hidden_entry(const std::filesystem::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && (name[0] == '.' || name.rfind("__", 0) == 0);
}

}  // namespace fer
