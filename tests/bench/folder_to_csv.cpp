// Writes an image-folder edition of FER2013 as a Kaggle-form fer2013.csv
// (emotion,pixels,Usage), so the CSV path can be benchmarked on the same images.
//   fer-bench-folder-to-csv FOLDER_ROOT OUT.csv
#include <cstdio>
#include <fstream>
#include <string>

#include "data/image_folder.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s FOLDER_ROOT OUT.csv\n", argv[0]);
    return 2;
  }
  fer::IngestReport report(false);
  const fer::ImageSet images = fer::read_image_folder(argv[1], {}, report);
  static const char* kUsage[] = {"Training", "PublicTest", "PrivateTest"};
  std::string csv = "emotion,pixels,Usage\n";
  for (std::size_t i = 0; i < images.size(); ++i) {
    csv += std::to_string(images.labels[i]) + ",";
    for (int p = 0; p < fer::kImagePixels; ++p) {
      if (p) csv += ' ';
      csv += std::to_string(images.image(i)[p]);
    }
    csv += std::string(",") + kUsage[static_cast<int>(images.splits[i])] + "\n";
  }
  std::ofstream(argv[2], std::ios::binary) << csv;
  std::printf("wrote %zu rows to %s\n", images.size(), argv[2]);
  return 0;
}
