#include <gtest/gtest.h>

#include <fstream>

#include "common/error.hpp"
#include "common/rng.hpp"
#include "data/shard_reader.hpp"
#include "data/shard_writer.hpp"
#include "shard_fixture.hpp"

namespace fer {
namespace {
namespace fs = std::filesystem;
using test::TempDir;

class ShardReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    images_ = test::make_image_set(500, /*with_votes=*/true);
    ShardWriteOptions options;
    options.dataset_name = "t";
    options.images_per_shard = 64;  // 350 train images -> 6 shards
    manifest_ = write_shards(images_, dir_ / "t", options);
  }
  // Original index of an image read back, from its stored source "item-<i>".
  static std::size_t original_index(const std::string& source) {
    return std::stoul(source.substr(5));
  }
  std::string error_opening(ShardOpenOptions options = {}) {
    try {
      ShardDataset dataset(dir_ / "t", options);
    } catch (const CorruptDataError& e) {
      return e.what();
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  }
  fs::path first_train_shard() const { return dir_ / "t" / manifest_.splits[0].shards[0].file; }

  TempDir dir_;
  ImageSet images_;
  Manifest manifest_;
};

TEST_F(ShardReaderTest, RoundTripEveryImageLabelAndSoftLabel) {
  ShardDataset dataset(dir_ / "t", {/*verify_checksums=*/true});
  std::size_t total = 0;
  for (int s = 0; s < kNumSplits; ++s) {
    SplitReader& split = dataset.split(static_cast<Split>(s));
    std::vector<std::uint8_t> buffer(split.size() * kImagePixels);
    split.read_range(0, split.size(), buffer.data());
    const auto sources = split.sources();
    ASSERT_EQ(sources.size(), split.size());
    for (std::size_t k = 0; k < split.size(); ++k) {
      const std::size_t i = original_index(sources[k]);
      ASSERT_EQ(static_cast<int>(images_.splits[i]), s);
      ASSERT_EQ(split.labels()[k], images_.labels[i]);
      ASSERT_TRUE(std::equal(buffer.begin() + k * kImagePixels,
                             buffer.begin() + (k + 1) * kImagePixels, images_.image(i)))
          << "image " << k << " of split " << s;
      const auto soft = soft_labels_from_votes(images_.votes.data() + i * kFerPlusVoteColumns);
      for (int c = 0; c < kNumEmotions; ++c)
        ASSERT_FLOAT_EQ(split.soft_labels()[k * kNumEmotions + c], soft[c]);
    }
    total += split.size();
  }
  EXPECT_EQ(total, images_.size());
}

TEST_F(ShardReaderTest, ReadByIndicesMatchesRangeReadsAcrossShards) {
  ShardDataset dataset(dir_ / "t");
  SplitReader& train = dataset.split(Split::kTrain);
  std::vector<std::uint8_t> all(train.size() * kImagePixels);
  train.read_range(0, train.size(), all.data());
  // Random order, duplicates, and runs that cross shard boundaries (63, 64, 65).
  std::vector<std::size_t> indices = {63, 64, 65, 66, 0, 0, 349, 348, 127, 128};
  SplitMix64 rng(9);
  for (int k = 0; k < 200; ++k) indices.push_back(rng.below(train.size()));
  std::vector<std::uint8_t> out(indices.size() * kImagePixels, 0xAB);
  train.read(indices.data(), indices.size(), out.data());
  for (std::size_t k = 0; k < indices.size(); ++k)
    ASSERT_TRUE(std::equal(out.begin() + k * kImagePixels, out.begin() + (k + 1) * kImagePixels,
                           all.begin() + indices[k] * kImagePixels))
        << "index " << indices[k];
  train.cache_in_memory();
  ASSERT_TRUE(train.cached());
  std::vector<std::uint8_t> from_cache(out.size());
  train.read(indices.data(), indices.size(), from_cache.data());
  EXPECT_EQ(from_cache, out) << "in-memory reads must equal HDF5 reads";
  const std::size_t bad = train.size();
  EXPECT_THROW(train.read(&bad, 1, out.data()), std::out_of_range);
  EXPECT_THROW(train.read_range(train.size() - 1, 2, out.data()), std::out_of_range);
}

TEST_F(ShardReaderTest, TruncatedShardIsRejectedNamingIt) {
  fs::resize_file(first_train_shard(), fs::file_size(first_train_shard()) - 1000);
  const std::string e = error_opening();
  EXPECT_NE(e.find(first_train_shard().string()), std::string::npos) << e;
  EXPECT_NE(e.find("truncated or modified"), std::string::npos) << e;
}

TEST_F(ShardReaderTest, TamperedBytesFailChecksumVerification) {
  {
    std::fstream file(first_train_shard(), std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(fs::file_size(first_train_shard()) / 2));
    file.put('\x5A');
  }
  const std::string e = error_opening({/*verify_checksums=*/true});
  EXPECT_NE(e.find(first_train_shard().string() + ": SHA-256 is"), std::string::npos) << e;
  EXPECT_NE(e.find("modified or damaged"), std::string::npos) << e;
  // What the trainer and fer-eval open (the default options) checks it too.
  EXPECT_EQ(error_opening(), e);
  EXPECT_EQ(error_opening({/*verify_checksums=*/false}), "");
}

TEST_F(ShardReaderTest, GarbageShardOfRightSizeIsNotHdf5) {
  const auto size = fs::file_size(first_train_shard());
  test::write_file(first_train_shard(), std::string(size, 'x'));
  const std::string e = error_opening();
  EXPECT_NE(e.find("not a readable HDF5 file"), std::string::npos) << e;
}

TEST_F(ShardReaderTest, MissingShardAndManifestProblems) {
  fs::remove(first_train_shard());
  EXPECT_NE(error_opening().find(first_train_shard().string() + ": missing"), std::string::npos);

  test::write_file(dir_ / "t" / "manifest.json", "{ not json");
  EXPECT_NE(error_opening().find("manifest.json: not valid JSON"), std::string::npos);

  auto json = manifest_to_json(manifest_);
  json["format_version"] = 99;
  test::write_file(dir_ / "t" / "manifest.json", json.dump());
  EXPECT_NE(error_opening().find("format_version 99 is not supported"), std::string::npos);

  json = manifest_to_json(manifest_);
  json["splits"]["val"].erase("images");
  test::write_file(dir_ / "t" / "manifest.json", json.dump());
  EXPECT_NE(error_opening().find("splits.val: missing key 'images'"), std::string::npos)
      << error_opening();

  fs::remove(dir_ / "t" / "manifest.json");
  EXPECT_NE(error_opening().find("manifest.json: cannot open"), std::string::npos);
}

TEST_F(ShardReaderTest, AttributeWithSeveralValuesIsDamageNotAnOverrun) {
  {
    H5Handle file(H5Fopen(first_train_shard().c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    ASSERT_TRUE(file.valid());
    ASSERT_GE(H5Adelete(file.get(), "format_version"), 0);
    const hsize_t four = 4;
    H5Handle space(H5Screate_simple(1, &four, nullptr), H5Sclose);
    H5Handle attribute(H5Acreate2(file.get(), "format_version", H5T_NATIVE_INT, space.get(),
                                  H5P_DEFAULT, H5P_DEFAULT),
                       H5Aclose);
    const int values[4] = {1, 1, 1, 1};
    ASSERT_TRUE(attribute.valid());
    ASSERT_GE(H5Awrite(attribute.get(), H5T_NATIVE_INT, values), 0);
  }
  auto json = manifest_to_json(manifest_);  // make the size check pass, so the attribute is read
  json["splits"]["train"]["shards"][0]["bytes"] = fs::file_size(first_train_shard());
  test::write_file(dir_ / "t" / "manifest.json", json.dump());
  const std::string e = error_opening();
  EXPECT_NE(e.find("attribute 'format_version' should hold one value"), std::string::npos)
      << "[" << e << "]";
}

TEST_F(ShardReaderTest, LabelCountsThatDisagreeWithManifestAreRejected) {
  auto json = manifest_to_json(manifest_);
  auto& counts = json["splits"]["train"]["shards"][1]["class_counts"];
  counts[0] = counts[0].get<int>() + 1;
  counts[1] = counts[1].get<int>() - 1;
  test::write_file(dir_ / "t" / "manifest.json", json.dump());
  const std::string e = error_opening();
  EXPECT_NE(e.find("train-00001-of-00006.h5: per-class label counts differ"), std::string::npos)
      << e;
}

}  // namespace
}  // namespace fer
