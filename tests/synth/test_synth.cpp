#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "common/error.hpp"
#include "data/fer_csv.hpp"
#include "data/image_folder.hpp"
#include "synth/face_renderer.hpp"
#include "synth/synthetic_dataset.hpp"
#include "test_support.hpp"

namespace fer {
namespace {
using test::TempDir;

double mean_abs_difference(const std::uint8_t* a, const std::uint8_t* b) {
  double sum = 0;
  for (int i = 0; i < kImagePixels; ++i) sum += std::abs(int(a[i]) - int(b[i]));
  return sum / kImagePixels;
}

TEST(SynthFaces, DeterministicPerSeedAndVaried) {
  std::uint8_t a[kImagePixels], b[kImagePixels], c[kImagePixels];
  render_synthetic_face(3, 11, a);
  render_synthetic_face(3, 11, b);
  render_synthetic_face(3, 12, c);
  EXPECT_EQ(std::memcmp(a, b, kImagePixels), 0);
  EXPECT_GT(mean_abs_difference(a, c), 5.0);
}

TEST(SynthFaces, ExpressionChangesTheMouthRegion) {
  // The same identity and pose seed with another emotion differs in the lower face.
  std::uint8_t happy[kImagePixels], sad[kImagePixels];
  render_synthetic_face(3, 5, happy);
  render_synthetic_face(4, 5, sad);
  EXPECT_GT(mean_abs_difference(happy, sad), 1.0);
}

TEST(SynthDataset, CsvAndFolderCarryTheSameImagesAndExactCounts) {
  TempDir dir;
  SynthOptions options;
  options.images = 210;
  options.balanced = true;
  options.write_ferplus = true;
  const SynthSummary summary = write_synthetic_dataset(dir / "s", options);
  std::size_t per_class[kNumEmotions] = {};
  for (const auto& split : summary.counts)
    for (int c = 0; c < kNumEmotions; ++c) per_class[c] += split[c];
  for (int c = 0; c < kNumEmotions; ++c) EXPECT_EQ(per_class[c], 30u);

  IngestReport csv_report(false), folder_report(false);
  const Fer2013Csv csv = read_fer2013_csv(dir / "s" / "fer2013.csv", {}, csv_report);
  const ImageSet folder = read_image_folder(dir / "s" / "images", {}, folder_report);
  ASSERT_EQ(csv.images.size(), 210u);
  ASSERT_EQ(folder.size(), 210u);
  EXPECT_EQ(csv.images.class_counts(), folder.class_counts());
  EXPECT_EQ(csv.images.class_counts(), summary.counts);
  // Row n of the CSV is image <Usage>_<n>.png of the folder edition (PNG is lossless).
  for (std::size_t i = 0; i < folder.size(); ++i) {
    const std::string& source = folder.sources[i];
    const std::size_t row = std::stoul(source.substr(source.rfind('_') + 1));
    ASSERT_EQ(folder.labels[i], csv.images.labels[row]) << source;
    ASSERT_EQ(std::memcmp(folder.image(i), csv.images.image(row), kImagePixels), 0) << source;
  }
  EXPECT_EQ(read_ferplus_csv(dir / "s" / "fer2013new.csv").votes.size(), 210u);
}

TEST(SynthDataset, RefusesToOverwriteUnlessAsked) {
  TempDir dir;
  SynthOptions options;
  options.images = 14;
  options.write_folder = false;
  write_synthetic_dataset(dir / "s", options);
  EXPECT_THROW(write_synthetic_dataset(dir / "s", options), InputError);
  options.overwrite = true;
  EXPECT_NO_THROW(write_synthetic_dataset(dir / "s", options));
}

}  // namespace
}  // namespace fer
