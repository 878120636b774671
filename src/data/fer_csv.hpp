#pragma once
// Kaggle's fer2013.csv (header `emotion,pixels,Usage`) and FERPlus's fer2013new.csv
// (vote counts per row of fer2013.csv, joined by row order).

#include <array>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "data/image_set.hpp"

namespace fer {

struct Fer2013Csv {
  ImageSet images;
  std::vector<std::size_t> data_rows;  // 0-based data-row index of each image (FERPlus join key)
  std::vector<Split> row_splits;       // Usage of every data row (meaningful for valid rows)
  std::size_t total_rows = 0;          // data rows in the file, valid or not
};

// Parses fer2013.csv. Columns are found by name in any order; without a Usage column
// every row is train and `options.val_fraction` of it goes to val (stratified).
// Malformed rows are errors naming file:line (or are skipped, per report.invalid).
Fer2013Csv read_fer2013_csv(const std::filesystem::path& path, const IngestOptions& options,
                            IngestReport& report);

using FerPlusVotes = std::array<std::uint8_t, kFerPlusVoteColumns>;

struct FerPlusCsv {
  std::vector<FerPlusVotes> votes;  // one per data row
  std::vector<Split> usage;         // one per data row
  std::vector<std::size_t> line_numbers;
  std::string file_name;
};

FerPlusCsv read_ferplus_csv(const std::filesystem::path& path);

// The majority rule (FERPlus reference "majority" mode): single votes are dropped as
// annotator noise; the label is the class holding more than half of the remaining
// votes. No such class, or a winner that is not a FER2013 emotion (contempt, unknown,
// NF), means the row has no valid majority.
enum class MajorityOutcome { kLabel, kNoMajority, kNotFerClass };
struct Majority {
  MajorityOutcome outcome;
  std::uint8_t label;  // FER2013 id when outcome == kLabel
};
Majority ferplus_majority(const FerPlusVotes& votes);

// FER2013 id of each FERPlus vote column, or -1 (contempt, unknown, NF).
int ferplus_column_to_emotion(int column);

// Joins FERPlus votes onto fer2013.csv by row order: replaces each label with the
// majority label, stores the raw votes, and drops (and counts) rows without a valid
// majority. Row counts and Usage must agree between the files.
void apply_ferplus(Fer2013Csv& csv, const FerPlusCsv& ferplus, IngestReport& report);

}  // namespace fer
