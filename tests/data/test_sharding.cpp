#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "common/error.hpp"
#include "common/rng.hpp"
#include "data/shard_writer.hpp"
#include "shard_fixture.hpp"

namespace fer {
namespace {
namespace fs = std::filesystem;
using test::TempDir;

std::vector<std::uint8_t> random_labels(std::size_t n, std::uint64_t seed) {
  SplitMix64 rng(seed);
  std::vector<std::uint8_t> labels(n);
  // Skewed like FER2013: class 1 rare, class 3 common.
  for (auto& label : labels) {
    const auto r = rng.below(100);
    label = static_cast<std::uint8_t>(r < 2 ? 1 : r < 27 ? 3 : r % 7);
  }
  return labels;
}

TEST(PlanShards, BalancedSizesAndClassesEveryItemOnce) {
  for (std::size_t n : {1u, 6u, 97u, 1000u, 4097u}) {
    for (std::size_t per_shard : {1u, 7u, 100u, 4096u}) {
      const auto labels = random_labels(n, n * 31 + per_shard);
      const auto plan = plan_shards(labels, per_shard, 42);
      ASSERT_EQ(plan.size(), (n + per_shard - 1) / per_shard);
      std::size_t smallest = n, largest = 0;
      std::vector<std::size_t> seen;
      std::array<std::size_t, kNumEmotions> class_min{}, class_max{};
      class_min.fill(n);
      for (const auto& shard : plan) {
        smallest = std::min(smallest, shard.size());
        largest = std::max(largest, shard.size());
        ASSERT_LE(shard.size(), per_shard);
        std::array<std::size_t, kNumEmotions> counts{};
        for (std::size_t i : shard) {
          seen.push_back(i);
          ++counts[labels[i]];
        }
        for (int c = 0; c < kNumEmotions; ++c) {
          class_min[c] = std::min(class_min[c], counts[c]);
          class_max[c] = std::max(class_max[c], counts[c]);
        }
      }
      EXPECT_LE(largest - smallest, 1u) << "n=" << n << " per_shard=" << per_shard;
      for (int c = 0; c < kNumEmotions; ++c)
        EXPECT_LE(class_max[c] - class_min[c], 1u) << "class " << c;
      std::sort(seen.begin(), seen.end());
      for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(seen[i], i);
    }
  }
}

TEST(PlanShards, SeededAndInterleaved) {
  const auto labels = random_labels(500, 3);
  EXPECT_EQ(plan_shards(labels, 100, 1), plan_shards(labels, 100, 1));
  EXPECT_NE(plan_shards(labels, 100, 1), plan_shards(labels, 100, 2));
  // Within a shard classes are interleaved, not in blocks by class.
  const auto shard = plan_shards(labels, 100, 1)[0];
  std::size_t changes = 0;
  for (std::size_t k = 1; k < shard.size(); ++k)
    changes += labels[shard[k]] != labels[shard[k - 1]];
  EXPECT_GT(changes, 30u);
  EXPECT_THROW(plan_shards(labels, 0, 1), InputError);
}

TEST(WriteShards, SameInputAndSeedGiveByteIdenticalShards) {
  TempDir dir;
  const ImageSet images = test::make_image_set(300, /*with_votes=*/true);
  ShardWriteOptions options;
  options.dataset_name = "t";
  options.images_per_shard = 64;
  options.seed = 5;
  const Manifest a = write_shards(images, dir / "a", options);
  const Manifest b = write_shards(images, dir / "b", options);
  std::size_t files = 0;
  for (int s = 0; s < kNumSplits; ++s)
    for (std::size_t k = 0; k < a.splits[s].shards.size(); ++k) {
      const auto& name = a.splits[s].shards[k].file;
      EXPECT_EQ(test::read_file(dir / "a" / name), test::read_file(dir / "b" / name)) << name;
      EXPECT_EQ(a.splits[s].shards[k].sha256, b.splits[s].shards[k].sha256);
      ++files;
    }
  EXPECT_EQ(files, 4u + 1u + 1u);  // 210 train / 64 -> 4, 60 val -> 1, 30 test -> 1
  EXPECT_EQ(test::read_file(dir / "a" / "manifest.json"),
            test::read_file(dir / "b" / "manifest.json"));
  options.seed = 6;
  const Manifest c = write_shards(images, dir / "c", options);
  EXPECT_NE(c.splits[0].shards[0].sha256, a.splits[0].shards[0].sha256);
}

TEST(WriteShards, ManifestCountsAndNames) {
  TempDir dir;
  const ImageSet images = test::make_image_set(100);
  ShardWriteOptions options;
  options.dataset_name = "t";
  options.images_per_shard = 30;
  const Manifest m = write_shards(images, dir / "t", options);
  const auto counts = images.class_counts();
  for (int s = 0; s < kNumSplits; ++s) {
    EXPECT_EQ(m.splits[s].class_counts, counts[s]);
    std::size_t total = 0;
    for (const auto& shard : m.splits[s].shards) {
      total += shard.images;
      EXPECT_EQ(shard.bytes, fs::file_size(dir / "t" / shard.file));
      EXPECT_EQ(shard.sha256.size(), 64u);
    }
    EXPECT_EQ(total, m.splits[s].images);
  }
  EXPECT_EQ(m.splits[0].shards.size(), 3u);  // 70 train images
  EXPECT_EQ(m.splits[0].shards[2].file, "train-00002-of-00003.h5");
  EXPECT_EQ(load_manifest(dir / "t").splits[1].images, 20u);
}

TEST(WriteShards, ExistingOutputNeedsOverwriteAndIsReplacedWhole) {
  TempDir dir;
  ShardWriteOptions options;
  options.dataset_name = "t";
  write_shards(test::make_image_set(50), dir / "t", options);
  test::write_file(dir / "t" / "stale.txt", "from an older run");
  try {
    write_shards(test::make_image_set(60), dir / "t", options);
    FAIL() << "existing output was overwritten without --overwrite";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("already exists; pass --overwrite"), std::string::npos);
  }
  EXPECT_EQ(load_manifest(dir / "t").splits[0].images, 35u);
  options.overwrite = true;
  write_shards(test::make_image_set(60), dir / "t", options);
  EXPECT_EQ(load_manifest(dir / "t").splits[0].images, 42u);
  EXPECT_FALSE(fs::exists(dir / "t" / "stale.txt"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

}  // namespace
}  // namespace fer
