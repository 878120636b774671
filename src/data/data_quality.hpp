#pragma once
// The data-quality report of an image set, before it is sharded: identical images
// within a split and across splits (a training image that also occurs in val or test is
// leakage), identical images with conflicting labels, and blank (near-constant)
// images. fer-shard prints it and stores it in the manifest; --dedupe acts on it.
//
// "Identical" means the same 2,304 decoded pixels: byte-identical files decode to the
// same pixels, and so do different encodings of one image.

#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/image_set.hpp"

namespace fer {

// An image whose pixels' standard deviation is below this is blank: solid black or
// white frames, and the near-constant frames FER2013 holds in place of a face.
inline constexpr double kBlankPixelStd = 2.0;

struct DuplicateCounts {
  std::size_t groups = 0;              // sets of >= 2 identical images
  std::size_t images = 0;              // images in those sets
  std::size_t conflicting_groups = 0;  // of those sets, the ones with more than one label
  std::size_t conflicting_images = 0;
};

struct QualityReport {
  std::array<DuplicateCounts, kNumSplits> within;  // identical images inside one split
  // Train vs each other split (index val, test; train's own entry stays zero):
  // distinct images present in both, and how many files of each side they cover.
  std::array<std::size_t, kNumSplits> shared_with_train{};
  std::array<std::size_t, kNumSplits> train_images_shared{};
  std::array<std::size_t, kNumSplits> split_images_shared{};
  std::array<std::size_t, kNumSplits> blank{};  // per split
  std::vector<std::string> blank_examples;      // sources of the first few blanks
  std::vector<std::string> conflict_examples;   // "a (Angry) = b (Surprise)", first few
  std::vector<std::string> leak_examples;       // "train a = val b", first few

  // What --dedupe removed from train (zero when it was not asked for).
  bool deduplicated = false;
  std::size_t dropped_leaks = 0;        // train images also in val or test
  std::size_t dropped_conflicting = 0;  // train images of groups with conflicting labels
  std::size_t dropped_blank = 0;        // blank train images
};

// Examines every image; O(n) hashing plus exact comparison inside hash buckets.
QualityReport assess_quality(const ImageSet& images);

// --dedupe: removes from train the images that leak into val/test, every member of a
// train group with conflicting labels, and blank train images; val and test stay as
// they are (they are the benchmark). Fills the dropped_* counts of `report`.
void drop_flagged_training_images(ImageSet& images, QualityReport& report);

nlohmann::json quality_to_json(const QualityReport& report);
std::string quality_to_text(const QualityReport& report);

}  // namespace fer
