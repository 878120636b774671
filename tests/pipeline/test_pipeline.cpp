#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <set>

#include "data/shard_writer.hpp"
#include "pipeline/augment.hpp"
#include "pipeline/batch_loader.hpp"
#include "pipeline/epoch_order.hpp"
#include "pipeline/normalize.hpp"
#include "shard_fixture.hpp"

namespace fer {
namespace {
using test::TempDir;

TEST(EpochOrder, EveryRankSameCountAndAllImagesCovered) {
  for (std::size_t n : {1u, 7u, 100u, 101u}) {
    for (int world : {1, 2, 3, 8}) {
      std::set<std::size_t> seen;
      std::size_t count = 0;
      for (int rank = 0; rank < world; ++rank) {
        const auto mine = epoch_indices(n, 5, 2, rank, world, /*shuffle=*/true, /*pad=*/true);
        if (rank == 0) count = mine.size();
        EXPECT_EQ(mine.size(), count) << "n=" << n << " world=" << world;
        EXPECT_EQ(mine.size(), (n + world - 1) / world);
        seen.insert(mine.begin(), mine.end());
      }
      EXPECT_EQ(seen.size(), n) << "every image at least once";
    }
  }
}

TEST(EpochOrder, BlocksGiveEqualCountsFullCoverageAndMatchAccumulatedMicroBatches) {
  for (std::size_t n : {1u, 7u, 100u, 101u, 257u}) {
    for (int world : {1, 2, 3}) {
      for (std::size_t block : {1u, 4u, 16u}) {
        std::multiset<std::size_t> seen;
        for (int rank = 0; rank < world; ++rank) {
          const auto mine = epoch_indices(n, 5, 2, rank, world, true, true, block);
          EXPECT_EQ(mine.size(), (n + world - 1) / world)
              << "n=" << n << " world=" << world << " block=" << block;
          seen.insert(mine.begin(), mine.end());
        }
        std::set<std::size_t> distinct(seen.begin(), seen.end());
        EXPECT_EQ(distinct.size(), n) << "every image at least once";
        EXPECT_LT(seen.size() - n, static_cast<std::size_t>(world)) << "padding < world";
      }
    }
  }
  // Rank r's batch of step s == micro-batch r of step s in a one-rank run whose step
  // is `world` consecutive micro-batches of `block` images.
  const std::size_t n = 96, block = 8;
  const int world = 3;
  const auto single = epoch_indices(n, 9, 1, 0, 1, true, true, block);
  for (int rank = 0; rank < world; ++rank) {
    const auto mine = epoch_indices(n, 9, 1, rank, world, true, true, block);
    for (std::size_t step = 0; step < n / (block * world); ++step)
      for (std::size_t k = 0; k < block; ++k)
        ASSERT_EQ(mine[step * block + k],
                  single[(step * world + static_cast<std::size_t>(rank)) * block + k]);
  }
}

TEST(EpochOrder, EvaluationCountsEachImageOnceAndShufflesPerEpoch) {
  std::vector<std::size_t> all;
  for (int rank = 0; rank < 3; ++rank) {
    const auto mine = epoch_indices(10, 1, 0, rank, 3, false, false);
    all.insert(all.end(), mine.begin(), mine.end());
  }
  std::sort(all.begin(), all.end());
  std::vector<std::size_t> expected(10);
  std::iota(expected.begin(), expected.end(), 0u);
  EXPECT_EQ(all, expected);
  EXPECT_NE(epoch_indices(50, 1, 0, 0, 1, true, true), epoch_indices(50, 1, 1, 0, 1, true, true));
  EXPECT_EQ(epoch_indices(50, 1, 3, 0, 1, true, true), epoch_indices(50, 1, 3, 0, 1, true, true));
}

TEST(Augment, DeterministicPerSeedShapesAndFiniteValues) {
  const auto pixels = test::pattern_pixels(3);
  AugmentConfig config;
  config.scale_probability = config.rotate_probability = config.translate_probability = 1.0;
  config.erase_probability = 1.0;
  std::vector<float> a(48 * 48), b(48 * 48), c(48 * 48);
  SplitMix64 r1(7), r2(7), r3(8);
  augment_for_training(pixels.data(), config, r1, a.data());
  augment_for_training(pixels.data(), config, r2, b.data());
  augment_for_training(pixels.data(), config, r3, c.data());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (float v : a)
    ASSERT_TRUE(std::isfinite(v) && v >= normalize_pixel(0) - 1e-5f &&
                v <= normalize_pixel(255) + 1e-5f);
  config.crop_size = 40;
  EXPECT_EQ(model_input_size(config), 40);
}

TEST(Augment, NoAugmentationIsExactlyTheNormalisedImage) {
  const auto pixels = test::pattern_pixels(4);
  AugmentConfig off;
  off.scale_probability = off.rotate_probability = off.translate_probability = 0;
  off.flip_probability = off.erase_probability = 0;
  std::vector<float> out(48 * 48), expected(48 * 48);
  SplitMix64 rng(1);
  augment_for_training(pixels.data(), off, rng, out.data());
  normalize_pixels(pixels.data(), expected.data(), expected.size());
  EXPECT_EQ(out, expected);
  // A certain flip mirrors each row.
  off.flip_probability = 1;
  augment_for_training(pixels.data(), off, rng, out.data());
  for (int r = 0; r < 48; ++r)
    for (int c = 0; c < 48; ++c)
      ASSERT_NEAR(out[r * 48 + c], expected[r * 48 + 47 - c], 1e-5) << r << "," << c;
}

TEST(Augment, EvalViews) {
  const auto pixels = test::pattern_pixels(5);
  AugmentConfig config;
  config.crop_size = 40;
  config.eval_tta = EvalTta::kTencrop;
  ASSERT_EQ(eval_view_count(config), 10);
  std::vector<float> views(10 * 40 * 40);
  eval_views(pixels.data(), config, views.data());
  EXPECT_FLOAT_EQ(views[0], normalize_pixel(pixels[0]));  // top-left crop
  EXPECT_FLOAT_EQ(views[1600 * 3 + 39 * 40 + 39],
                  normalize_pixel(pixels[47 * 48 + 47]));         // bottom-right
  EXPECT_FLOAT_EQ(views[1600 * 5], normalize_pixel(pixels[39]));  // mirrored top-left
  config.eval_tta = EvalTta::kFlip;
  EXPECT_EQ(eval_view_count(config), 2);
  config.eval_tta = EvalTta::kNone;
  EXPECT_EQ(eval_view_count(config), 1);
}

TEST(Augment, ShiftViewsAreTheImageItsTwoPixelShiftsAndTheirMirrors) {
  const auto pixels = test::pattern_pixels(6);
  AugmentConfig config;  // whole 48x48 images
  config.eval_tta = EvalTta::kShifts;
  ASSERT_EQ(eval_view_count(config), 10);
  std::vector<float> views(10 * 48 * 48);
  eval_views(pixels.data(), config, views.data());
  const auto view = [&](int k, int r, int c) { return views[k * 48 * 48 + r * 48 + c]; };
  const auto source = [&](int r, int c) { return normalize_pixel(pixels[r * 48 + c]); };
  // Views 0-4: unshifted, then moved right, left, down and up by 2 (away from the edges
  // that the reflection fills); views 5-9 mirror them.
  const int moves[5][2] = {{0, 0}, {2, 0}, {-2, 0}, {0, 2}, {0, -2}};
  for (int k = 0; k < 5; ++k)
    for (int r = 2; r < 46; ++r)
      for (int c = 2; c < 46; ++c) {
        ASSERT_FLOAT_EQ(view(k, r, c), source(r - moves[k][1], c - moves[k][0])) << k;
        ASSERT_FLOAT_EQ(view(5 + k, r, c), view(k, r, 47 - c)) << k;
      }
  // The edges are reflected, not blank: right-moved column 0 repeats column 2.
  for (int r = 0; r < 48; ++r) ASSERT_FLOAT_EQ(view(1, r, 0), source(r, 2));
}

class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ShardWriteOptions options;
    options.dataset_name = "t";
    options.images_per_shard = 50;
    write_shards(test::make_image_set(300), dir_ / "t", options);
    dataset_ = std::make_unique<ShardDataset>(dir_ / "t");
  }
  TempDir dir_;
  std::unique_ptr<ShardDataset> dataset_;
};

TEST_F(LoaderTest, TrainingBatchesKeepLabelsCoverTheEpochAndRepeatPerSeed) {
  SplitReader& train = dataset_->split(Split::kTrain);  // 210 images
  LoaderOptions options;
  options.batch_size = 32;
  options.threads = 2;
  options.prefetch = 2;
  BatchLoader loader(train, options);
  ASSERT_EQ(loader.steps_per_epoch(), 7u);
  std::vector<float> first_epoch;
  for (int pass = 0; pass < 2; ++pass) {
    loader.start_epoch(3);
    std::multiset<std::size_t> seen;
    std::vector<float> images;
    std::size_t steps = 0;
    while (auto batch = loader.next()) {
      EXPECT_EQ(batch->step, steps++);
      EXPECT_EQ(batch->side, 48);
      for (int k = 0; k < batch->size; ++k) {
        ASSERT_EQ(batch->labels[k], train.labels()[batch->indices[k]])
            << "augmentation must keep labels";
        seen.insert(batch->indices[k]);
      }
      images.insert(images.end(), batch->images, batch->images + batch->size * 48 * 48);
    }
    EXPECT_EQ(steps, 7u);
    EXPECT_EQ(seen.size(), 210u);
    EXPECT_EQ(std::set<std::size_t>(seen.begin(), seen.end()).size(), 210u)
        << "each image once per epoch";
    if (pass == 0)
      first_epoch = images;
    else
      EXPECT_EQ(images, first_epoch) << "same seed and epoch, same augmented batches";
  }
}

TEST_F(LoaderTest, EvaluationViewsAndResumeInsideAnEpoch) {
  SplitReader& val = dataset_->split(Split::kVal);  // 60 images
  LoaderOptions options;
  options.training = false;
  options.batch_size = 25;
  options.augment.eval_tta = EvalTta::kFlip;
  BatchLoader loader(val, options);
  loader.start_epoch(0);
  std::size_t total = 0;
  while (auto batch = loader.next()) {
    EXPECT_EQ(batch->views, 2);
    total += static_cast<std::size_t>(batch->size);
  }
  EXPECT_EQ(total, 60u);
  loader.start_epoch(0, /*first_step=*/2);
  auto batch = loader.next();
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->step, 2u);
  EXPECT_EQ(batch->size, 10);
  EXPECT_FALSE(loader.next());
}

}  // namespace
}  // namespace fer
