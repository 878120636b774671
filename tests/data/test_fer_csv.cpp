#include <gtest/gtest.h>

#include "common/error.hpp"
#include "data/fer_csv.hpp"
#include "test_support.hpp"

namespace fer {
namespace {
using test::csv_row;
using test::pattern_pixels;
using test::TempDir;
using test::write_file;

Fer2013Csv parse(const TempDir& dir, const std::string& contents, bool skip_invalid = false,
                 IngestReport* report_out = nullptr) {
  write_file(dir / "fer2013.csv", contents);
  IngestReport report(skip_invalid);
  IngestOptions options;
  options.skip_invalid = skip_invalid;
  options.threads = 2;
  Fer2013Csv csv = read_fer2013_csv(dir / "fer2013.csv", options, report);
  if (report_out) *report_out = report;
  return csv;
}

// The error message of parsing `contents`, or "" when it parses.
std::string error_of(const std::string& contents) {
  TempDir dir;
  try {
    parse(dir, contents);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

const std::string kHeader = "emotion,pixels,Usage\n";

TEST(Fer2013Csv, ParsesRowsWithLabelsSplitsAndPixels) {
  TempDir dir;
  const std::string text = kHeader + csv_row(3, pattern_pixels(1), "Training") + "\n" +
                           csv_row(6, pattern_pixels(2), "PublicTest") + "\n" +
                           csv_row(1, pattern_pixels(3), "PrivateTest") + "\n";
  const Fer2013Csv csv = parse(dir, text);
  ASSERT_EQ(csv.images.size(), 3u);
  EXPECT_EQ(csv.images.labels, (std::vector<std::uint8_t>{3, 6, 1}));
  EXPECT_EQ(csv.images.splits, (std::vector<Split>{Split::kTrain, Split::kVal, Split::kTest}));
  for (int i = 0; i < 3; ++i) {
    const auto expected = pattern_pixels(i + 1);
    EXPECT_TRUE(std::equal(expected.begin(), expected.end(), csv.images.image(i))) << "row " << i;
  }
  EXPECT_NE(csv.images.sources[1].find("fer2013.csv:3"), std::string::npos);
}

TEST(Fer2013Csv, ToleratesCrlfBomWhitespaceQuotesAndColumnOrder) {
  TempDir dir;
  const auto pixels = pattern_pixels(5);
  const std::string text =
      "\xEF\xBB\xBF Usage , emotion ,pixels\r\n"
      "PublicTest,4,\"" +
      test::pixels_text(pixels) + "\"\r\n\r\n";
  const Fer2013Csv csv = parse(dir, text);
  ASSERT_EQ(csv.images.size(), 1u);
  EXPECT_EQ(csv.images.labels[0], 4);
  EXPECT_EQ(csv.images.splits[0], Split::kVal);
  EXPECT_TRUE(std::equal(pixels.begin(), pixels.end(), csv.images.image(0)));
}

TEST(Fer2013Csv, MalformedRowsNameFileLineAndExpectation) {
  const std::string good = csv_row(0, pattern_pixels(1), "Training") + "\n";
  auto pixels_missing_one = test::pixels_text(pattern_pixels(1));
  pixels_missing_one = pixels_missing_one.substr(0, pixels_missing_one.rfind(' '));

  std::string e = error_of(kHeader + good + "0," + pixels_missing_one + ",Training\n");
  EXPECT_NE(e.find("fer2013.csv:3"), std::string::npos) << e;
  EXPECT_NE(e.find("expected 2304 values"), std::string::npos) << e;
  EXPECT_NE(e.find("found 2303"), std::string::npos) << e;

  e = error_of(kHeader + good + "0,256 " + pixels_missing_one + ",Training\n");
  EXPECT_NE(e.find("fer2013.csv:3"), std::string::npos) << e;
  EXPECT_NE(e.find("256"), std::string::npos) << e;
  EXPECT_NE(e.find("outside 0..255"), std::string::npos) << e;

  e = error_of(kHeader + "0,12 x3 4,Training\n");
  EXPECT_NE(e.find(":2: pixels: value 'x3'"), std::string::npos) << e;

  e = error_of(kHeader + good + good + "7," + test::pixels_text(pattern_pixels(1)) + ",Training\n");
  EXPECT_NE(e.find("fer2013.csv:4: emotion: '7' is not a FER2013 label id"), std::string::npos)
      << e;

  e = error_of(kHeader + "0," + test::pixels_text(pattern_pixels(1)) + ",Validation\n");
  EXPECT_NE(e.find(":2: Usage: 'Validation' is not one of Training, PublicTest, PrivateTest"),
            std::string::npos)
      << e;

  e = error_of(kHeader + "0," + test::pixels_text(pattern_pixels(1)) + "\n");
  EXPECT_NE(e.find(":2: expected 3 columns"), std::string::npos) << e;
  EXPECT_NE(e.find("found 2"), std::string::npos) << e;
}

TEST(Fer2013Csv, EmptyFileAndHeaderProblems) {
  EXPECT_NE(error_of("").find("empty file"), std::string::npos);
  EXPECT_NE(error_of("\r\n\n").find("empty file"), std::string::npos);
  EXPECT_NE(error_of(kHeader).find("no data rows"), std::string::npos);
  const std::string e = error_of("label,image,Usage\n0,1,Training\n");
  EXPECT_NE(e.find("fer2013.csv:1: header has no column 'emotion'"), std::string::npos) << e;
  EXPECT_NE(e.find("expected 'emotion,pixels,Usage'"), std::string::npos) << e;
}

TEST(Fer2013Csv, SkipInvalidCountsAndKeepsTheRest) {
  TempDir dir;
  std::string text = kHeader;
  for (int i = 0; i < 10; ++i) text += csv_row(i % 7, pattern_pixels(i), "Training") + "\n";
  for (int i = 0; i < 7; ++i) text += "9," + test::pixels_text(pattern_pixels(i)) + ",Training\n";
  IngestReport report(true);
  const Fer2013Csv csv = parse(dir, text, /*skip_invalid=*/true, &report);
  EXPECT_EQ(csv.images.size(), 10u);
  EXPECT_EQ(report.invalid.count(), 7u);
  ASSERT_EQ(report.invalid.first_messages().size(), InvalidItems::kMessagesKept);
  EXPECT_NE(report.invalid.first_messages()[0].find("fer2013.csv:12"), std::string::npos);
  EXPECT_EQ(csv.total_rows, 17u);
  EXPECT_EQ(csv.data_rows.back(), 9u);
}

TEST(Fer2013Csv, WithoutUsageColumnSplitsTrainIntoValByStratifiedDraw) {
  TempDir dir;
  std::string text = "emotion,pixels\n";
  for (int i = 0; i < 700; ++i)
    text += std::to_string(i % 7) + "," + test::pixels_text(pattern_pixels(i)) + "\n";
  IngestReport report(false);
  const Fer2013Csv csv = parse(dir, text, false, &report);
  const auto counts = csv.images.class_counts();
  for (int c = 0; c < kNumEmotions; ++c) {
    EXPECT_EQ(counts[static_cast<int>(Split::kVal)][c], 10u) << "class " << c;
    EXPECT_EQ(counts[static_cast<int>(Split::kTrain)][c], 90u) << "class " << c;
  }
  EXPECT_EQ(report.split_for_val, 70u);
}

}  // namespace
}  // namespace fer
