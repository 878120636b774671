#pragma once
// An in-memory ImageSet with known pixels, labels and sources, for shard tests.

#include "data/image_set.hpp"
#include "test_support.hpp"

namespace fer::test {

// Image i has pattern_pixels(i), label (i * 5 + i / 7) % 7 (uneven class counts),
// source "item-<i>"; splits: 70% train, 20% val, 10% test by position.
inline ImageSet make_image_set(std::size_t count, bool with_votes = false) {
  ImageSet images;
  for (std::size_t i = 0; i < count; ++i) {
    const auto label = static_cast<std::uint8_t>((i * 5 + i / 7) % 7);
    const Split split = i % 10 < 7 ? Split::kTrain : i % 10 < 9 ? Split::kVal : Split::kTest;
    const auto pixels = pattern_pixels(static_cast<int>(i));
    std::copy(pixels.begin(), pixels.end(),
              images.append(label, split, "item-" + std::to_string(i)));
    if (with_votes)
      for (int c = 0; c < kFerPlusVoteColumns; ++c)
        images.votes.push_back(static_cast<std::uint8_t>((i + c) % 4));
  }
  return images;
}

}  // namespace fer::test
