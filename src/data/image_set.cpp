#include "data/image_set.hpp"

#include <algorithm>
#include <cmath>

#include "common/error.hpp"
#include "common/rng.hpp"

namespace fer {

std::uint8_t* ImageSet::append(std::uint8_t label, Split split, std::string source) {
  labels.push_back(label);
  splits.push_back(split);
  sources.push_back(std::move(source));
  pixels.resize(pixels.size() + kImagePixels);
  return pixels.data() + pixels.size() - kImagePixels;
}

void ImageSet::filter(const std::vector<bool>& keep) {
  std::size_t out = 0;
  for (std::size_t i = 0; i < size(); ++i) {
    if (!keep[i]) continue;
    if (out != i) {
      labels[out] = labels[i];
      splits[out] = splits[i];
      sources[out] = std::move(sources[i]);
      std::copy_n(image(i), kImagePixels, image(out));
      if (has_votes())
        std::copy_n(votes.begin() + i * kFerPlusVoteColumns, kFerPlusVoteColumns,
                    votes.begin() + out * kFerPlusVoteColumns);
    }
    ++out;
  }
  labels.resize(out);
  splits.resize(out);
  sources.resize(out);
  pixels.resize(out * kImagePixels);
  if (has_votes()) votes.resize(out * kFerPlusVoteColumns);
}

std::array<std::array<std::size_t, kNumEmotions>, kNumSplits> ImageSet::class_counts() const {
  std::array<std::array<std::size_t, kNumEmotions>, kNumSplits> counts{};
  for (std::size_t i = 0; i < size(); ++i) ++counts[static_cast<int>(splits[i])][labels[i]];
  return counts;
}

void InvalidItems::reject(std::string message) {
  if (!skip_) throw InputError(message);
  ++count_;
  if (messages_.size() < kMessagesKept) messages_.push_back(std::move(message));
}

std::size_t split_off_validation(ImageSet& set, const std::vector<std::size_t>& candidates,
                                 double fraction, std::uint64_t seed) {
  if (!(fraction >= 0.0 && fraction < 1.0))
    throw InputError("--val-fraction must be in [0, 1), got " + std::to_string(fraction));
  std::array<std::vector<std::size_t>, kNumEmotions> by_class;
  for (std::size_t i : candidates) by_class[set.labels[i]].push_back(i);
  std::size_t moved = 0;
  for (int c = 0; c < kNumEmotions; ++c) {
    // One stream per class so a class's choice does not depend on the others' sizes.
    SplitMix64 rng(seed ^ (0x5EEDULL * static_cast<std::uint64_t>(c + 1)));
    deterministic_shuffle(by_class[c], rng);
    auto take =
        static_cast<std::size_t>(std::llround(fraction * static_cast<double>(by_class[c].size())));
    for (std::size_t k = 0; k < take; ++k) set.splits[by_class[c][k]] = Split::kVal;
    moved += take;
  }
  return moved;
}

}  // namespace fer
