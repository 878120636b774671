#pragma once
// fer-synth's data set: procedural faces written in the forms users download
// FER2013 in, so every input path of fer-shard can be exercised without the real data.
//   OUT/fer2013.csv                         emotion,pixels,Usage
//   OUT/fer2013new.csv                      FERPlus-style votes (with --ferplus)
//   OUT/images/train/<class>/Training_<n>.png
//   OUT/images/test/<class>/{PublicTest,PrivateTest}_<n>.png

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>

#include "data/emotions.hpp"

namespace fer {

struct SynthOptions {
  std::size_t images = 6000;
  std::uint64_t seed = 1;
  bool write_csv = true;
  bool write_folder = true;
  bool write_ferplus = false;
  std::string image_extension = ".png";  // any OpenCV encoder: .png (lossless), .jpg
  double val_fraction = 0.1;             // PublicTest share
  double test_fraction = 0.1;            // PrivateTest share
  bool balanced = false;                 // uniform classes instead of FER2013's proportions
  unsigned threads = 0;                  // 0: all cores
  bool overwrite = false;
};

struct SynthSummary {
  std::array<std::array<std::size_t, kNumEmotions>, kNumSplits> counts{};
};

// Writes the data set atomically (staging directory, then rename). Same options,
// same bytes.
SynthSummary write_synthetic_dataset(const std::filesystem::path& out_dir,
                                     const SynthOptions& options);

}  // namespace fer
