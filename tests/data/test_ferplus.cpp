#include <gtest/gtest.h>

#include <numeric>

#include "common/error.hpp"
#include "data/fer_csv.hpp"
#include "data/shard_writer.hpp"
#include "test_support.hpp"

namespace fer {
namespace {
using test::csv_row;
using test::pattern_pixels;
using test::TempDir;
using test::write_file;

// Columns: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF
Majority majority(std::initializer_list<int> votes) {
  FerPlusVotes v{};
  int i = 0;
  for (int vote : votes) v[i++] = static_cast<std::uint8_t>(vote);
  return ferplus_majority(v);
}

TEST(FerPlusMajority, MoreThanHalfOfNonSingleVotesWins) {
  auto m = majority({0, 8, 0, 0, 0, 0, 0, 0, 2, 0});
  EXPECT_EQ(m.outcome, MajorityOutcome::kLabel);
  EXPECT_EQ(m.label, 3);  // happiness -> Happy
  m = majority({6, 0, 0, 0, 0, 0, 0, 0, 0, 4});
  EXPECT_EQ(m.label, 6);  // neutral -> Neutral (id 6, not column 0)
  // 5 vs 1+1+1+1+1: single votes are noise, so 5 of 5 remaining.
  m = majority({0, 0, 0, 0, 5, 1, 1, 1, 1, 1});
  EXPECT_EQ(m.outcome, MajorityOutcome::kLabel);
  EXPECT_EQ(m.label, 0);  // anger -> Angry
}

TEST(FerPlusMajority, TiesAndNonFerWinnersHaveNoValidMajority) {
  EXPECT_EQ(majority({5, 5, 0, 0, 0, 0, 0, 0, 0, 0}).outcome, MajorityOutcome::kNoMajority);
  EXPECT_EQ(majority({4, 3, 3, 0, 0, 0, 0, 0, 0, 0}).outcome, MajorityOutcome::kNoMajority);
  EXPECT_EQ(majority({0, 0, 0, 0, 0, 0, 0, 0, 0, 0}).outcome, MajorityOutcome::kNoMajority);
  EXPECT_EQ(majority({0, 0, 0, 0, 0, 0, 0, 7, 3, 0}).outcome, MajorityOutcome::kNotFerClass);
  EXPECT_EQ(majority({2, 0, 0, 0, 0, 0, 0, 0, 0, 8}).outcome, MajorityOutcome::kNotFerClass);
}

TEST(FerPlusSoftLabels, SevenEmotionsNormalisedInFerIdOrder) {
  const std::uint8_t votes[10] = {2, 6, 0, 0, 1, 0, 0, 1, 0, 0};
  const auto soft = soft_labels_from_votes(votes);
  EXPECT_FLOAT_EQ(std::accumulate(soft.begin(), soft.end(), 0.0f), 1.0f);
  EXPECT_FLOAT_EQ(soft[3], 6.0f / 9.0f);  // Happy
  EXPECT_FLOAT_EQ(soft[6], 2.0f / 9.0f);  // Neutral
  EXPECT_FLOAT_EQ(soft[0], 1.0f / 9.0f);  // Angry
}

struct Files {
  TempDir dir;
  std::filesystem::path csv = dir / "fer2013.csv";
  std::filesystem::path plus = dir / "fer2013new.csv";
};

const std::string kPlusHeader =
    "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n";

TEST(FerPlusJoin, ReplacesLabelsStoresVotesAndDropsCounted) {
  Files f;
  write_file(f.csv, "emotion,pixels,Usage\n" + csv_row(0, pattern_pixels(0), "Training") + "\n" +
                        csv_row(0, pattern_pixels(1), "Training") + "\n" +
                        csv_row(0, pattern_pixels(2), "PublicTest") + "\n" +
                        csv_row(0, pattern_pixels(3), "PrivateTest") + "\n");
  write_file(f.plus, kPlusHeader + "Training,fer0000000.png,0,9,0,0,0,0,0,0,1,0\n" +  // Happy
                         "Training,fer0000001.png,5,5,0,0,0,0,0,0,0,0\n" +            // tie
                         "PublicTest,fer0000002.png,0,0,0,0,0,0,2,0,0,8\n" +          // NF
                         "PrivateTest,,0,0,0,10,0,0,0,0,0,0\n");                      // Sad
  IngestReport report(false);
  Fer2013Csv csv = read_fer2013_csv(f.csv, {}, report);
  apply_ferplus(csv, read_ferplus_csv(f.plus), report);
  ASSERT_EQ(csv.images.size(), 2u);
  EXPECT_EQ(csv.images.labels, (std::vector<std::uint8_t>{3, 4}));
  EXPECT_EQ(csv.images.splits, (std::vector<Split>{Split::kTrain, Split::kTest}));
  const auto expected = pattern_pixels(3);
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), csv.images.image(1)));
  ASSERT_EQ(csv.images.votes.size(), 20u);
  EXPECT_EQ(csv.images.votes[1], 9);
  EXPECT_EQ(csv.images.votes[10 + 3], 10);
  EXPECT_EQ(report.ferplus_no_majority, 1u);
  EXPECT_EQ(report.ferplus_not_fer_class, 1u);
}

TEST(FerPlusJoin, RowCountAndUsageMustAgree) {
  Files f;
  write_file(f.csv, "emotion,pixels,Usage\n" + csv_row(0, pattern_pixels(0), "Training") + "\n" +
                        csv_row(0, pattern_pixels(1), "PublicTest") + "\n");
  IngestReport report(false);
  write_file(f.plus, kPlusHeader + "Training,a,0,9,0,0,0,0,0,0,1,0\n");
  Fer2013Csv csv = read_fer2013_csv(f.csv, {}, report);
  try {
    apply_ferplus(csv, read_ferplus_csv(f.plus), report);
    FAIL() << "row count mismatch accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("has 1 data rows but fer2013.csv has 2"),
              std::string::npos)
        << e.what();
  }
  write_file(f.plus,
             kPlusHeader + "Training,a,0,9,0,0,0,0,0,0,1,0\nTraining,b,0,9,0,0,0,0,0,0,1,0\n");
  try {
    apply_ferplus(csv, read_ferplus_csv(f.plus), report);
    FAIL() << "Usage mismatch accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("fer2013new.csv:3: Usage is train but " + f.csv.string() +
                                         ":3 is val; the files are not aligned"),
              std::string::npos)
        << e.what();
  }
}

TEST(FerPlusJoin, RowsSkippedAsInvalidDoNotBreakTheJoin) {
  Files f;
  write_file(f.csv, "emotion,pixels,Usage\n" + csv_row(0, pattern_pixels(0), "Training") + "\n" +
                        "3,1 2 3,PublicTest\n" +  // malformed: skipped
                        csv_row(0, pattern_pixels(2), "PrivateTest") + "\n");
  write_file(f.plus, kPlusHeader +
                         "Training,a,0,9,0,0,0,0,0,0,1,0\nPublicTest,b,0,9,0,0,0,0,0,0,1,0\n" +
                         "PrivateTest,c,0,0,0,10,0,0,0,0,0,0\n");
  IngestReport report(/*skip_invalid=*/true);
  IngestOptions options;
  options.skip_invalid = true;
  Fer2013Csv csv = read_fer2013_csv(f.csv, options, report);
  apply_ferplus(csv, read_ferplus_csv(f.plus), report);
  EXPECT_EQ(report.invalid.count(), 1u);
  ASSERT_EQ(csv.images.size(), 2u);
  EXPECT_EQ(csv.images.labels, (std::vector<std::uint8_t>{3, 4}));  // joined with rows 1 and 3
}

TEST(FerPlusCsv, BadVoteNamesLineAndColumn) {
  Files f;
  write_file(f.plus,
             kPlusHeader + "Training,a,0,9,0,0,0,0,0,0,1,0\nTraining,b,0,x,0,0,0,0,0,0,1,0\n");
  try {
    read_ferplus_csv(f.plus);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("fer2013new.csv:3: happiness: 'x' is not a vote count"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace fer
