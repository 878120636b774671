#include <gtest/gtest.h>

#include <map>

#include "common/error.hpp"
#include "data/image_files.hpp"
#include "data/image_folder.hpp"
#include "test_support.hpp"

namespace fer {
namespace {
using test::pattern_pixels;
using test::TempDir;
using test::write_file;
using test::write_image;

ImageSet read(const TempDir& dir, IngestReport& report, double val_fraction = 0.1,
              std::uint64_t seed = 0) {
  IngestOptions options;
  options.val_fraction = val_fraction;
  options.seed = seed;
  options.skip_invalid = report.invalid.skipping();
  options.threads = 2;
  return read_image_folder(dir.path(), options, report);
}

std::map<std::string, std::size_t> index_by_source(const ImageSet& images) {
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < images.size(); ++i) index[images.sources[i]] = i;
  return index;
}

TEST(ImageFolder, ClassByFolderNameSplitByPrefix) {
  TempDir dir;
  write_image(dir / "train/sad/Training_1.png", pattern_pixels(1), 48, 48);
  write_image(dir / "train/neutral/Training_2.png", pattern_pixels(2), 48, 48);
  write_image(dir / "test/surprised/PublicTest_3.png", pattern_pixels(3), 48, 48);
  write_image(dir / "test/fearful/PrivateTest_4.png", pattern_pixels(4), 48, 48);
  write_image(dir / "test/Disgusted/PrivateTest_5.png", pattern_pixels(5), 48, 48);
  IngestReport report(false);
  const ImageSet images = read(dir, report);
  ASSERT_EQ(images.size(), 5u);
  auto at = index_by_source(images);
  const std::size_t sad = at.at("train/sad/Training_1.png");
  EXPECT_EQ(images.labels[sad], 4);
  EXPECT_EQ(images.splits[sad], Split::kTrain);
  EXPECT_EQ(images.labels[at.at("train/neutral/Training_2.png")], 6);
  EXPECT_EQ(images.labels[at.at("test/surprised/PublicTest_3.png")], 5);
  EXPECT_EQ(images.splits[at.at("test/surprised/PublicTest_3.png")], Split::kVal);
  EXPECT_EQ(images.labels[at.at("test/fearful/PrivateTest_4.png")], 2);
  EXPECT_EQ(images.splits[at.at("test/fearful/PrivateTest_4.png")], Split::kTest);
  EXPECT_EQ(images.labels[at.at("test/Disgusted/PrivateTest_5.png")], 1);
  const auto expected = pattern_pixels(1);
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), images.image(sad)));
  EXPECT_EQ(report.converted, 0u);
  EXPECT_EQ(report.split_for_val, 0u);  // prefixes decide; no draw
}

TEST(ImageFolder, WithoutPrefixTrainIsSplitStratifiedAndSeeded) {
  TempDir dir;
  for (int i = 0; i < 40; ++i)
    write_image(dir / ("train/happy/im" + std::to_string(i) + ".png"), pattern_pixels(i), 48, 48);
  for (int i = 0; i < 20; ++i)
    write_image(dir / ("train/angry/im" + std::to_string(i) + ".png"), pattern_pixels(i), 48, 48);
  for (int i = 0; i < 5; ++i)
    write_image(dir / ("test/angry/im" + std::to_string(i) + ".png"), pattern_pixels(i), 48, 48);
  IngestReport report(false);
  const ImageSet a = read(dir, report, 0.25, 7);
  auto counts = a.class_counts();
  EXPECT_EQ(counts[1][3], 10u);  // val happy
  EXPECT_EQ(counts[1][0], 5u);   // val angry
  EXPECT_EQ(counts[0][3], 30u);
  EXPECT_EQ(counts[2][0], 5u);  // test/ without prefix stays test
  EXPECT_EQ(report.split_for_val, 15u);

  IngestReport again(false), other(false);
  const ImageSet b = read(dir, again, 0.25, 7);
  const ImageSet c = read(dir, other, 0.25, 8);
  EXPECT_EQ(a.splits, b.splits) << "same seed must give the same split";
  EXPECT_NE(a.splits, c.splits) << "another seed should give another split";
}

TEST(ImageFolder, OtherSizesAndColourAreConvertedAndCounted) {
  TempDir dir;
  std::vector<std::uint8_t> big(96 * 96, 200);
  write_image(dir / "train/happy/Training_1.png", big, 96, 96);
  write_image(dir / "train/happy/Training_2.png", pattern_pixels(2), 48, 48, /*channels=*/3);
  write_image(dir / "train/happy/Training_3.jpg", pattern_pixels(3), 48, 48);
  write_file(dir / "train/happy/notes.txt", "not an image");
  IngestReport report(false);
  const ImageSet images = read(dir, report);
  ASSERT_EQ(images.size(), 3u);
  EXPECT_EQ(report.converted, 2u);
  EXPECT_EQ(report.ignored_files, 1u);
  auto at = index_by_source(images);
  EXPECT_EQ(images.image(at.at("train/happy/Training_1.png"))[100], 200);
  const auto expected = pattern_pixels(2);
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(),
                         images.image(at.at("train/happy/Training_2.png"))));
}

TEST(ImageFolder, CorruptImagesAreErrorsNamingTheFile) {
  TempDir dir;
  write_image(dir / "train/happy/Training_1.jpg", pattern_pixels(1), 48, 48);
  write_file(dir / "train/sad/Training_2.jpg", "this is a text file named .jpg");
  IngestReport report(false);
  try {
    read(dir, report);
    FAIL() << "a text file named .jpg was accepted";
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("train/sad/Training_2.jpg"), std::string::npos) << message;
    EXPECT_NE(message.find("not a readable image"), std::string::npos) << message;
  }
}

TEST(ImageFolder, TruncatedJpegAndEmptyFileAreSkippedWhenAsked) {
  TempDir dir;
  write_image(dir / "train/happy/Training_1.jpg", pattern_pixels(1), 48, 48);
  const std::string jpeg = test::read_file(dir / "train/happy/Training_1.jpg");
  write_file(dir / "train/happy/Training_2.jpg", jpeg.substr(0, 20));
  write_file(dir / "train/happy/Training_3.jpg", "");
  IngestReport report(true);
  const ImageSet images = read(dir, report);
  EXPECT_EQ(images.size(), 1u);
  EXPECT_EQ(report.invalid.count(), 2u);
  EXPECT_NE(report.invalid.first_messages()[0].find("Training_2.jpg"), std::string::npos);
  EXPECT_NE(report.invalid.first_messages()[1].find("Training_3.jpg: empty file"),
            std::string::npos);
}

TEST(ImageFolder, UnknownClassFolderAndLayoutErrors) {
  TempDir dir;
  write_image(dir / "train/contempt/Training_1.png", pattern_pixels(1), 48, 48);
  IngestReport report(false);
  try {
    read(dir, report);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'contempt' is not a FER2013 class folder"),
              std::string::npos)
        << e.what();
  }
  TempDir flat;
  write_image(flat / "happy/Training_1.png", pattern_pixels(1), 48, 48);
  try {
    IngestReport r(false);
    read(flat, r);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("unexpected folder"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fer

// One rule for every folder walk (fer-shard's image folders, fer-predict's directories).
TEST(ImageFiles, OneRuleForWhichEntriesAreImages) {
  for (const char* name :
       {"a.jpg", "b.JPEG", "c.png", "d.webp", "e.tif", "f.pgm", "g.exr", "h.pic"})
    EXPECT_TRUE(fer::has_image_extension(name)) << name;
  for (const char* name : {"a.txt", "b.csv", "c", "d.jpg.part", "e.gif"})
    EXPECT_FALSE(fer::has_image_extension(name)) << name;
  for (const char* name : {".DS_Store", "._a.jpg", "__MACOSX", "__pycache__", "dir/.hidden.png"})
    EXPECT_TRUE(fer::is_hidden_entry(name)) << name;
  for (const char* name : {"a.jpg", "_a.jpg", "happy", "x__y.png"})
    EXPECT_FALSE(fer::is_hidden_entry(name)) << name;
}
