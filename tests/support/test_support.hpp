#pragma once
// Helpers shared by the unit tests: temporary directories, files, CSV rows and
// images with known pixels.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace fer::test {

// A fresh directory under the system temp dir, removed with its contents at scope end.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

void write_file(const std::filesystem::path& path, const std::string& contents);
std::string read_file(const std::filesystem::path& path);

// 2,304 pixels with a pattern that depends on `seed` (so images are distinguishable).
std::vector<std::uint8_t> pattern_pixels(int seed);
// "label,<2,304 values>,Usage" (no line end).
std::string csv_row(int label, const std::vector<std::uint8_t>& pixels, const std::string& usage);
std::string pixels_text(const std::vector<std::uint8_t>& pixels);

// Writes a grayscale image of the given size with OpenCV (format by extension).
void write_image(const std::filesystem::path& path, const std::vector<std::uint8_t>& pixels,
                 int rows, int cols, int channels = 1);

}  // namespace fer::test
