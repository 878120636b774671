#include <gtest/gtest.h>

#include "data/image_stats.hpp"
#include "data/shard_writer.hpp"
#include "test_support.hpp"

namespace fer {
namespace {

// Train: smooth gradients (blurry); val: a checkerboard (sharp).
ImageSet blurry_train_sharp_val() {
  ImageSet images;
  for (int i = 0; i < 20; ++i) {
    std::uint8_t* p =
        images.append(static_cast<std::uint8_t>(i % 7), i < 10 ? Split::kTrain : Split::kVal, "x");
    for (int y = 0; y < 48; ++y)
      for (int x = 0; x < 48; ++x)
        p[y * 48 + x] = i < 10 ? static_cast<std::uint8_t>(2 * x + y)
                               : static_cast<std::uint8_t>((x + y) % 2 ? 200 : 40);
  }
  return images;
}

TEST(ImageStats, MeanStdAndSharpness) {
  const ImageSet images = blurry_train_sharp_val();
  const ImageStats train = image_statistics(images, Split::kTrain);
  const ImageStats val = image_statistics(images, Split::kVal);
  ASSERT_TRUE(train.present && val.present);
  EXPECT_NEAR(val.pixel_mean, 120.0, 1e-9);
  EXPECT_NEAR(val.pixel_std, 80.0, 1e-9);
  EXPECT_NEAR(train.sharpness, 0.0, 1e-9);  // a linear ramp has no Laplacian
  EXPECT_NEAR(val.sharpness, 640.0 * 640.0, 1e-6);
  EXPECT_FALSE(image_statistics(images, Split::kTest).present);
}

TEST(ImageStats, StoredInManifestAndDifferentSplitsAreReported) {
  test::TempDir dir;
  ShardWriteOptions options;
  options.dataset_name = "t";
  const Manifest written = write_shards(blurry_train_sharp_val(), dir / "t", options);
  const Manifest read = load_manifest(dir / "t");
  EXPECT_TRUE(read.split(Split::kVal).stats.present);
  EXPECT_DOUBLE_EQ(read.split(Split::kVal).stats.sharpness,
                   written.split(Split::kVal).stats.sharpness);
  const std::string warning = sharpness_warning(read);
  EXPECT_NE(warning.find("train images are much blurrier than val images"), std::string::npos)
      << warning;
  EXPECT_NE(manifest_summary(read).find("sharpness"), std::string::npos);

  ImageSet alike = blurry_train_sharp_val();
  for (auto& split : alike.splits) split = Split::kTrain;
  alike.splits[0] = Split::kVal;
  write_shards(alike, dir / "alike", options);
  ImageSet same_kind;
  for (int i = 0; i < 10; ++i) {
    const auto pixels = test::pattern_pixels(i);
    std::copy(pixels.begin(), pixels.end(),
              same_kind.append(0, i < 7 ? Split::kTrain : Split::kVal, "x"));
  }
  write_shards(same_kind, dir / "same", options);
  EXPECT_EQ(sharpness_warning(load_manifest(dir / "same")), "");
}

}  // namespace
}  // namespace fer
