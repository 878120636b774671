#include "data/fer_csv.hpp"

#include <algorithm>
#include <charconv>
#include <string>

#include "common/error.hpp"
#include "common/parallel.hpp"
#include "common/text.hpp"
#include "data/csv_lines.hpp"

namespace fer {
namespace {

constexpr std::string_view kFer2013Header = "emotion,pixels,Usage";
constexpr std::string_view kFerPlusHeader =
    "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF";

// Parses exactly 2,304 space-separated values 0..255 into `out`. Returns an empty
// string on success, otherwise what was wrong (without the location).
std::string parse_pixels(std::string_view text, std::uint8_t* out) {
  std::size_t count = 0;
  const char* p = text.data();
  const char* end = p + text.size();
  while (true) {
    while (p < end && (*p == ' ' || *p == '\t')) ++p;
    if (p == end) break;
    const char* start = p;
    unsigned value = 0;
    while (p < end && *p >= '0' && *p <= '9' && p - start < 4)
      value = value * 10 + unsigned(*p++ - '0');
    if (p == start || (p < end && *p != ' ' && *p != '\t')) {
      while (p < end && *p != ' ') ++p;
      return "pixels: value '" + std::string(start, p) + "' at position " +
             std::to_string(count + 1) + " is not an integer 0..255";
    }
    if (value > 255)
      return "pixels: value " + std::string(start, p) + " at position " +
             std::to_string(count + 1) + " is outside 0..255";
    if (count < kImagePixels) out[count] = static_cast<std::uint8_t>(value);
    ++count;
  }
  if (count != kImagePixels)
    return "pixels: expected " + std::to_string(kImagePixels) + " values (48x48), found " +
           std::to_string(count);
  return {};
}

std::string usage_error(std::string_view usage) {
  return "Usage: '" + std::string(usage) + "' is not one of Training, PublicTest, PrivateTest";
}

}  // namespace

Fer2013Csv read_fer2013_csv(const std::filesystem::path& path, const IngestOptions& options,
                            IngestReport& report) {
  const CsvLines csv = read_csv_lines(path, kFer2013Header);
  const CsvHeader header(csv, kFer2013Header);
  const std::size_t emotion_column = header.require("emotion");
  const std::size_t pixels_column = header.require("pixels");
  const std::optional<std::size_t> usage_column = header.find("usage");
  const std::size_t columns = header.column_count();
  const std::size_t rows = csv.lines.size() - 1;
  if (rows == 0) throw InputError(csv.file_name + ": no data rows after the header");

  // Parse all rows in parallel into fixed slots; errors are then handled in file
  // order so the first reported error does not depend on thread timing.
  std::vector<std::uint8_t> pixels(rows * kImagePixels);
  std::vector<std::uint8_t> labels(rows);
  std::vector<Split> splits(rows, Split::kTrain);
  std::vector<std::string> errors(rows);
  unsigned threads = options.threads ? options.threads : default_thread_count();
  parallel_for(rows, threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t r = begin; r < end; ++r) {
      const auto fields = split(csv.lines[r + 1], ',');
      if (fields.size() != columns) {
        errors[r] = "expected " + std::to_string(columns) + " columns (" +
                    std::string(kFer2013Header) + "), found " + std::to_string(fields.size());
        continue;
      }
      if (usage_column) {
        const auto split_value = split_from_usage(csv_field(fields[*usage_column]));
        if (!split_value) {
          errors[r] = usage_error(csv_field(fields[*usage_column]));
          continue;
        }
        splits[r] = *split_value;
      }
      const std::string_view emotion = csv_field(fields[emotion_column]);
      int label = -1;
      auto [ptr, ec] = std::from_chars(emotion.data(), emotion.data() + emotion.size(), label);
      if (ec != std::errc() || ptr != emotion.data() + emotion.size() || label < 0 ||
          label >= kNumEmotions) {
        errors[r] = "emotion: '" + std::string(emotion) +
                    "' is not a FER2013 label id (0 Angry, 1 Disgust, 2 Fear, 3 Happy, 4 Sad, "
                    "5 Surprise, 6 Neutral)";
        continue;
      }
      labels[r] = static_cast<std::uint8_t>(label);
      errors[r] = parse_pixels(csv_field(fields[pixels_column]), pixels.data() + r * kImagePixels);
    }
  });

  Fer2013Csv result;
  result.total_rows = rows;
  result.row_splits = splits;
  ImageSet& images = result.images;
  images.pixels.reserve(rows * kImagePixels);
  std::vector<std::size_t> train_rows;
  for (std::size_t r = 0; r < rows; ++r) {
    if (!errors[r].empty()) {
      report.invalid.reject(csv.where(r + 1) + ": " + errors[r]);
      continue;
    }
    std::uint8_t* slot = images.append(labels[r], splits[r], csv.where(r + 1));
    std::copy_n(pixels.data() + r * kImagePixels, kImagePixels, slot);
    result.data_rows.push_back(r);
    if (splits[r] == Split::kTrain) train_rows.push_back(images.size() - 1);
  }
  if (!usage_column)
    report.split_for_val =
        split_off_validation(images, train_rows, options.val_fraction, options.seed);
  report.input_format = "csv";
  return result;
}

int ferplus_column_to_emotion(int column) {
  // neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF
  static constexpr int kMap[kFerPlusVoteColumns] = {6, 3, 5, 4, 0, 1, 2, -1, -1, -1};
  return kMap[column];
}

Majority ferplus_majority(const FerPlusVotes& raw) {
  int total = 0;
  int best_column = -1;
  int best = 0;
  for (int c = 0; c < kFerPlusVoteColumns; ++c) {
    const int votes = raw[c] > 1 ? raw[c] : 0;  // a single vote is treated as noise
    total += votes;
    if (votes > best) {
      best = votes;
      best_column = c;
    }
  }
  if (best_column < 0 || 2 * best <= total) return {MajorityOutcome::kNoMajority, 0};
  const int emotion = ferplus_column_to_emotion(best_column);
  if (emotion < 0) return {MajorityOutcome::kNotFerClass, 0};
  return {MajorityOutcome::kLabel, static_cast<std::uint8_t>(emotion)};
}

FerPlusCsv read_ferplus_csv(const std::filesystem::path& path) {
  const CsvLines csv = read_csv_lines(path, kFerPlusHeader);
  const CsvHeader header(csv, kFerPlusHeader);
  const std::size_t usage_column = header.require("Usage");
  std::array<std::size_t, kFerPlusVoteColumns> vote_columns{};
  for (int c = 0; c < kFerPlusVoteColumns; ++c)
    vote_columns[c] = header.require(kFerPlusColumnNames[c]);

  FerPlusCsv result;
  result.file_name = csv.file_name;
  for (std::size_t entry = 1; entry < csv.lines.size(); ++entry) {
    const auto fields = split(csv.lines[entry], ',');
    if (fields.size() != header.column_count())
      throw InputError(csv.where(entry) + ": expected " + std::to_string(header.column_count()) +
                       " columns (" + std::string(kFerPlusHeader) + "), found " +
                       std::to_string(fields.size()));
    const auto usage = split_from_usage(csv_field(fields[usage_column]));
    if (!usage)
      throw InputError(csv.where(entry) + ": " + usage_error(csv_field(fields[usage_column])));
    FerPlusVotes votes{};
    for (int c = 0; c < kFerPlusVoteColumns; ++c) {
      const std::string_view text = csv_field(fields[vote_columns[c]]);
      int value = -1;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec != std::errc() || ptr != text.data() + text.size() || value < 0 || value > 255)
        throw InputError(csv.where(entry) + ": " + std::string(kFerPlusColumnNames[c]) + ": '" +
                         std::string(text) + "' is not a vote count 0..255");
      votes[c] = static_cast<std::uint8_t>(value);
    }
    result.votes.push_back(votes);
    result.usage.push_back(*usage);
    result.line_numbers.push_back(csv.line_numbers[entry]);
  }
  if (result.votes.empty()) throw InputError(csv.file_name + ": no data rows after the header");
  return result;
}

void apply_ferplus(Fer2013Csv& csv, const FerPlusCsv& ferplus, IngestReport& report) {
  if (ferplus.votes.size() != csv.total_rows)
    throw InputError(ferplus.file_name + ": has " + std::to_string(ferplus.votes.size()) +
                     " data rows but fer2013.csv has " + std::to_string(csv.total_rows) +
                     "; FERPlus is joined by row order, so both must be the same release");
  // Rows of fer2013.csv that were skipped as invalid have no Usage to compare.
  for (std::size_t i = 0; i < csv.images.size(); ++i) {
    const std::size_t r = csv.data_rows[i];
    if (ferplus.usage[r] != csv.row_splits[r])
      throw InputError(ferplus.file_name + ":" + std::to_string(ferplus.line_numbers[r]) +
                       ": Usage is " + std::string(split_name(ferplus.usage[r])) + " but " +
                       csv.images.sources[i] + " is " + std::string(split_name(csv.row_splits[r])) +
                       "; the files are not aligned");
  }

  ImageSet& images = csv.images;
  images.votes.assign(images.size() * kFerPlusVoteColumns, 0);
  std::vector<bool> keep(images.size(), true);
  for (std::size_t i = 0; i < images.size(); ++i) {
    const FerPlusVotes& votes = ferplus.votes[csv.data_rows[i]];
    std::copy(votes.begin(), votes.end(), images.votes.begin() + i * kFerPlusVoteColumns);
    const Majority majority = ferplus_majority(votes);
    switch (majority.outcome) {
      case MajorityOutcome::kLabel:
        images.labels[i] = majority.label;
        break;
      case MajorityOutcome::kNoMajority:
        keep[i] = false;
        ++report.ferplus_no_majority;
        break;
      case MajorityOutcome::kNotFerClass:
        keep[i] = false;
        ++report.ferplus_not_fer_class;
        break;
    }
  }
  images.filter(keep);
  std::vector<std::size_t> kept_rows;
  for (std::size_t i = 0; i < keep.size(); ++i)
    if (keep[i]) kept_rows.push_back(csv.data_rows[i]);
  csv.data_rows = std::move(kept_rows);
  report.input_format = "csv+ferplus";
}

}  // namespace fer
