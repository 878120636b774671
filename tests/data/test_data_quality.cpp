#include <gtest/gtest.h>

#include "data/data_quality.hpp"

namespace fer {
namespace {

// Adds an image whose pixels are all derived from `seed` (distinct seeds, distinct
// images); `blank` gives a constant image of that value instead.
void add(ImageSet& images, int seed, std::uint8_t label, Split split, const std::string& name,
         bool blank = false) {
  std::uint8_t* p = images.append(label, split, name);
  for (std::size_t i = 0; i < kImagePixels; ++i)
    p[i] = blank ? static_cast<std::uint8_t>(seed)
                 : static_cast<std::uint8_t>((i * 7 + static_cast<std::size_t>(seed) * 131) % 251);
}

// train: a,a (same label), b,b,b (one label differs), c (also in val twice), d, blank;
// val: c, c, e; test: d.
ImageSet sample() {
  ImageSet images;
  add(images, 1, 3, Split::kTrain, "a1");
  add(images, 1, 3, Split::kTrain, "a2");
  add(images, 2, 0, Split::kTrain, "b1");
  add(images, 2, 0, Split::kTrain, "b2");
  add(images, 2, 5, Split::kTrain, "b3");
  add(images, 3, 4, Split::kTrain, "c1");
  add(images, 4, 6, Split::kTrain, "d1");
  add(images, 0, 6, Split::kTrain, "black", /*blank=*/true);
  add(images, 3, 4, Split::kVal, "c-val1");
  add(images, 3, 4, Split::kVal, "c-val2");
  add(images, 5, 2, Split::kVal, "e");
  add(images, 4, 6, Split::kTest, "d-test");
  return images;
}

TEST(DataQuality, FindsDuplicatesConflictsLeaksAndBlanks) {
  const QualityReport report = assess_quality(sample());
  const DuplicateCounts& train = report.within[static_cast<int>(Split::kTrain)];
  EXPECT_EQ(train.groups, 2u);  // a, b
  EXPECT_EQ(train.images, 5u);
  EXPECT_EQ(train.conflicting_groups, 1u);  // b
  EXPECT_EQ(train.conflicting_images, 3u);
  const DuplicateCounts& val = report.within[static_cast<int>(Split::kVal)];
  EXPECT_EQ(val.groups, 1u);  // c twice
  EXPECT_EQ(val.conflicting_groups, 0u);
  const int v = static_cast<int>(Split::kVal), t = static_cast<int>(Split::kTest);
  EXPECT_EQ(report.shared_with_train[v], 1u);  // c
  EXPECT_EQ(report.train_images_shared[v], 1u);
  EXPECT_EQ(report.split_images_shared[v], 2u);
  EXPECT_EQ(report.shared_with_train[t], 1u);  // d
  EXPECT_EQ(report.blank[static_cast<int>(Split::kTrain)], 1u);
  EXPECT_EQ(report.blank[v], 0u);
  ASSERT_EQ(report.conflict_examples.size(), 1u);
  EXPECT_NE(report.conflict_examples[0].find("b1 (Angry) = b3 (Surprise)"), std::string::npos)
      << report.conflict_examples[0];
  EXPECT_FALSE(report.deduplicated);
  EXPECT_FALSE(quality_to_json(report).contains("dropped_from_train"));
}

TEST(DataQuality, DedupeDropsLeaksConflictsAndBlanksFromTrainOnly) {
  ImageSet images = sample();
  QualityReport report = assess_quality(images);
  drop_flagged_training_images(images, report);
  EXPECT_EQ(report.dropped_leaks, 2u);        // c1, d1
  EXPECT_EQ(report.dropped_conflicting, 3u);  // b1..b3
  EXPECT_EQ(report.dropped_blank, 1u);
  std::vector<std::string> kept = images.sources;
  EXPECT_EQ(kept, (std::vector<std::string>{"a1", "a2", "c-val1", "c-val2", "e", "d-test"}));
  // The data set after --dedupe has no leak, conflict or blank left in train.
  const QualityReport after = assess_quality(images);
  EXPECT_EQ(after.shared_with_train[static_cast<int>(Split::kVal)], 0u);
  EXPECT_EQ(after.within[static_cast<int>(Split::kTrain)].conflicting_groups, 0u);
  EXPECT_EQ(after.blank[static_cast<int>(Split::kTrain)], 0u);
  const auto json = quality_to_json(report);
  EXPECT_EQ(json.at("dropped_from_train").at("leaks"), 2);
  EXPECT_NE(quality_to_text(report).find("--dedupe dropped from train: 2"), std::string::npos);
}

TEST(DataQuality, DistinctImagesWithEqualHashesStayApart) {
  // Images that differ in a single pixel are different images.
  ImageSet images;
  add(images, 7, 1, Split::kTrain, "x");
  add(images, 7, 2, Split::kTrain, "y");
  images.image(1)[kImagePixels - 1] ^= 1;
  const QualityReport report = assess_quality(images);
  EXPECT_EQ(report.within[0].groups, 0u);
}

}  // namespace
}  // namespace fer
