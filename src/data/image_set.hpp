#pragma once
// The in-memory form every input reader produces and the shard writer consumes:
// 48x48 grayscale images with their FER2013 label, split and source, plus FERPlus
// votes when present. Also the shared rules of ingestion: what happens to an invalid
// item (stop, or skip and count) and the seeded stratified validation split.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/emotions.hpp"

namespace fer {

// FERPlus vote columns, in the order of fer2013new.csv.
inline constexpr int kFerPlusVoteColumns = 10;
inline constexpr std::array<std::string_view, kFerPlusVoteColumns> kFerPlusColumnNames = {
    "neutral", "happiness", "surprise", "sadness", "anger",
    "disgust", "fear",      "contempt", "unknown", "NF"};

struct ImageSet {
  std::vector<std::uint8_t> pixels;  // size() x 2,304, row-major 48x48
  std::vector<std::uint8_t> labels;  // FER2013 ids 0..6
  std::vector<Split> splits;
  std::vector<std::string> sources;  // "fer2013.csv:17" (file:line) or a path under the input root
  std::vector<std::uint8_t> votes;   // FERPlus: size() x 10 raw votes; empty when absent

  std::size_t size() const { return labels.size(); }
  bool has_votes() const { return !votes.empty(); }
  const std::uint8_t* image(std::size_t i) const { return pixels.data() + i * kImagePixels; }
  std::uint8_t* image(std::size_t i) { return pixels.data() + i * kImagePixels; }

  // Adds one item and returns where its 2,304 pixels go.
  std::uint8_t* append(std::uint8_t label, Split split, std::string source);
  // Keeps the items whose `keep[i]` is true, in order.
  void filter(const std::vector<bool>& keep);
  // Per-split, per-class counts.
  std::array<std::array<std::size_t, kNumEmotions>, kNumSplits> class_counts() const;
};

// What to do with an invalid input item (malformed row, corrupt image): by default
// the first one stops the run with its message; with skip_invalid it is counted and
// the first few messages are kept for the report.
class InvalidItems {
 public:
  static constexpr std::size_t kMessagesKept = 5;
  explicit InvalidItems(bool skip_invalid) : skip_(skip_invalid) {}
  // Throws InputError(message) unless skipping.
  void reject(std::string message);
  bool skipping() const { return skip_; }
  std::size_t count() const { return count_; }
  const std::vector<std::string>& first_messages() const { return messages_; }

 private:
  bool skip_;
  std::size_t count_ = 0;
  std::vector<std::string> messages_;
};

struct IngestOptions {
  bool skip_invalid = false;
  double val_fraction = 0.1;  // for inputs that carry no validation split
  std::uint64_t seed = 0;
  unsigned threads = 0;  // 0: all cores
};

// What a reader did besides producing images; printed and stored in the manifest.
struct IngestReport {
  explicit IngestReport(bool skip_invalid) : invalid(skip_invalid) {}
  std::string input_format;  // "csv", "folder", "csv+ferplus"
  InvalidItems invalid;
  std::size_t converted = 0;              // images not 48x48 8-bit gray, converted
  std::size_t ignored_files = 0;          // non-image files in a folder tree
  std::size_t split_for_val = 0;          // moved from train to val by the stratified split
  std::size_t ferplus_no_majority = 0;    // dropped: no class with more than half the votes
  std::size_t ferplus_not_fer_class = 0;  // dropped: majority contempt / unknown / NF
};

// Moves round(fraction * n_c) of the `candidates` of each class c from train to val,
// chosen by a seeded shuffle: same input and seed, same split.
std::size_t split_off_validation(ImageSet& set, const std::vector<std::size_t>& candidates,
                                 double fraction, std::uint64_t seed);

}  // namespace fer
