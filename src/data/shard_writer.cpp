#include "data/shard_writer.hpp"

#include <algorithm>

#include "common/atomic_output.hpp"
#include "common/error.hpp"
#include "common/rng.hpp"
#include "common/sha256.hpp"
#include "data/fer_csv.hpp"
#include "data/hdf5_handle.hpp"
#include "data/image_stats.hpp"
#include "data/shard_format.hpp"

namespace fer {
namespace fs = std::filesystem;
namespace {

H5Handle make_property_list(hid_t cls, const std::string& where) {
  return {h5_check(H5Pcreate(cls), where, "H5Pcreate"), H5Pclose};
}

H5Handle make_dataspace(std::initializer_list<hsize_t> dims, const std::string& where) {
  std::vector<hsize_t> shape(dims);
  return {h5_check(H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr), where,
                   "H5Screate_simple"),
          H5Sclose};
}

void write_scalar_attribute(hid_t object, const char* name, int value, const std::string& where) {
  H5Handle space(h5_check(H5Screate(H5S_SCALAR), where, "H5Screate"), H5Sclose);
  H5Handle attribute(
      h5_check(H5Acreate2(object, name, H5T_NATIVE_INT, space.get(), H5P_DEFAULT, H5P_DEFAULT),
               where, name),
      H5Aclose);
  h5_check(H5Awrite(attribute.get(), H5T_NATIVE_INT, &value), where, name);
}

H5Handle variable_string_type(const std::string& where) {
  H5Handle type(h5_check(H5Tcopy(H5T_C_S1), where, "H5Tcopy"), H5Tclose);
  h5_check(H5Tset_size(type.get(), H5T_VARIABLE), where, "H5Tset_size");
  h5_check(H5Tset_cset(type.get(), H5T_CSET_UTF8), where, "H5Tset_cset");
  return type;
}

void write_string_attribute(hid_t object, const char* name, const std::vector<std::string>& values,
                            bool scalar, const std::string& where) {
  H5Handle type = variable_string_type(where);
  H5Handle space = scalar ? H5Handle(h5_check(H5Screate(H5S_SCALAR), where, "H5Screate"), H5Sclose)
                          : make_dataspace({values.size()}, where);
  std::vector<const char*> pointers;
  for (const auto& value : values) pointers.push_back(value.c_str());
  H5Handle attribute(
      h5_check(H5Acreate2(object, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), where,
               name),
      H5Aclose);
  h5_check(H5Awrite(attribute.get(), type.get(), pointers.data()), where, name);
}

// Creates and writes one dataset. Modification times are not recorded, so the
// same input gives byte-identical files.
void write_dataset(hid_t file, const char* name, hid_t file_type, hid_t memory_type,
                   std::initializer_list<hsize_t> dims, const void* data, bool chunked,
                   const std::string& where) {
  H5Handle space = make_dataspace(dims, where);
  H5Handle creation = make_property_list(H5P_DATASET_CREATE, where);
  h5_check(H5Pset_obj_track_times(creation.get(), 0), where, "H5Pset_obj_track_times");
  if (chunked) {
    std::vector<hsize_t> chunk(dims);
    chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(chunk[0], kImagesPerChunk));
    h5_check(H5Pset_chunk(creation.get(), static_cast<int>(chunk.size()), chunk.data()), where,
             "H5Pset_chunk");
  }
  H5Handle dataset(h5_check(H5Dcreate2(file, name, file_type, space.get(), H5P_DEFAULT,
                                       creation.get(), H5P_DEFAULT),
                            where, name),
                   H5Dclose);
  if (*dims.begin() > 0)
    h5_check(H5Dwrite(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), where,
             name);
}

void write_one_shard(const fs::path& path, const ImageSet& images,
                     const std::vector<std::size_t>& members, Split split, std::size_t index,
                     std::size_t count, const std::string& dataset_name) {
  const std::string where = path.string();
  const hsize_t n = members.size();
  H5Handle creation = make_property_list(H5P_FILE_CREATE, where);
  h5_check(H5Pset_obj_track_times(creation.get(), 0), where, "H5Pset_obj_track_times");
  H5Handle file(h5_check(H5Fcreate(path.c_str(), H5F_ACC_EXCL, creation.get(), H5P_DEFAULT), where,
                         "H5Fcreate"),
                H5Fclose);

  std::vector<std::uint8_t> pixels(n * kImagePixels);
  std::vector<std::uint8_t> labels(n);
  std::vector<const char*> sources(n);
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = members[k];
    std::copy_n(images.image(i), kImagePixels, pixels.data() + k * kImagePixels);
    labels[k] = images.labels[i];
    sources[k] = images.sources[i].c_str();
  }
  write_dataset(file.get(), h5names::kImages, H5T_STD_U8LE, H5T_NATIVE_UINT8,
                {n, hsize_t(kImageSide), hsize_t(kImageSide)}, pixels.data(), true, where);
  write_dataset(file.get(), h5names::kLabels, H5T_STD_U8LE, H5T_NATIVE_UINT8, {n}, labels.data(),
                false, where);
  H5Handle string_type = variable_string_type(where);
  write_dataset(file.get(), h5names::kSources, string_type.get(), string_type.get(), {n},
                sources.data(), n > 0, where);
  if (images.has_votes()) {
    std::vector<std::uint8_t> votes(n * kFerPlusVoteColumns);
    std::vector<float> soft(n * kNumEmotions);
    for (std::size_t k = 0; k < n; ++k) {
      const std::uint8_t* row = images.votes.data() + members[k] * kFerPlusVoteColumns;
      std::copy_n(row, kFerPlusVoteColumns, votes.data() + k * kFerPlusVoteColumns);
      const auto probabilities = soft_labels_from_votes(row);
      std::copy(probabilities.begin(), probabilities.end(), soft.data() + k * kNumEmotions);
    }
    write_dataset(file.get(), h5names::kVotes, H5T_STD_U8LE, H5T_NATIVE_UINT8,
                  {n, hsize_t(kFerPlusVoteColumns)}, votes.data(), false, where);
    write_dataset(file.get(), h5names::kSoftLabels, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                  {n, hsize_t(kNumEmotions)}, soft.data(), false, where);
  }

  const hid_t root = file.get();
  write_string_attribute(root, h5names::kFormat, {std::string(kShardFormatName)}, true, where);
  write_scalar_attribute(root, h5names::kFormatVersion, kShardFormatVersion, where);
  write_string_attribute(root, h5names::kDataset, {dataset_name}, true, where);
  write_string_attribute(root, h5names::kSplit, {std::string(split_name(split))}, true, where);
  write_scalar_attribute(root, h5names::kShardIndex, static_cast<int>(index), where);
  write_scalar_attribute(root, h5names::kShardCount, static_cast<int>(count), where);
  std::vector<std::string> class_names(kEmotionNames.begin(), kEmotionNames.end());
  write_string_attribute(root, h5names::kClassNames, class_names, false, where);
  if (H5Fclose(file.get()) < 0)
    throw std::runtime_error(where + ": HDF5 H5Fclose failed (disk full?)");
  file = H5Handle();  // already closed
}

}  // namespace

std::array<float, kNumEmotions> soft_labels_from_votes(const std::uint8_t* votes10) {
  std::array<float, kNumEmotions> soft{};
  float total = 0;
  for (int column = 0; column < kFerPlusVoteColumns; ++column) {
    const int emotion = ferplus_column_to_emotion(column);
    if (emotion < 0) continue;
    soft[emotion] = votes10[column];
    total += votes10[column];
  }
  if (total > 0)
    for (float& value : soft) value /= total;
  return soft;
}

std::vector<std::vector<std::size_t>> plan_shards(const std::vector<std::uint8_t>& labels,
                                                  std::size_t images_per_shard,
                                                  std::uint64_t seed) {
  if (images_per_shard == 0) throw InputError("--images-per-shard must be at least 1");
  if (labels.empty()) return {};
  const std::size_t shard_count = (labels.size() + images_per_shard - 1) / images_per_shard;
  SplitMix64 rng(seed);
  std::vector<std::size_t> dealing_order;
  dealing_order.reserve(labels.size());
  for (int c = 0; c < kNumEmotions; ++c) {
    std::vector<std::size_t> members;
    for (std::size_t i = 0; i < labels.size(); ++i)
      if (labels[i] == c) members.push_back(i);
    deterministic_shuffle(members, rng);
    dealing_order.insert(dealing_order.end(), members.begin(), members.end());
  }
  std::vector<std::vector<std::size_t>> shards(shard_count);
  for (std::size_t j = 0; j < dealing_order.size(); ++j)
    shards[j % shard_count].push_back(dealing_order[j]);
  for (auto& shard : shards) deterministic_shuffle(shard, rng);
  return shards;
}

Manifest write_shards(const ImageSet& images, const fs::path& out_dir,
                      const ShardWriteOptions& options) {
  silence_hdf5_errors();
  std::error_code ec;
  if (fs::exists(out_dir, ec) && !options.overwrite)
    throw InputError(out_dir.string() + ": already exists; pass --overwrite to replace it");
  if (images.size() == 0) throw InputError("no valid images to shard");

  StagedDirectory staging(out_dir);
  Manifest manifest;
  manifest.format_version = kShardFormatVersion;
  manifest.dataset = options.dataset_name;
  manifest.has_soft_labels = images.has_votes();
  manifest.created_by = options.created_by;

  for (int s = 0; s < kNumSplits; ++s) {
    const auto split = static_cast<Split>(s);
    std::vector<std::size_t> members;
    std::vector<std::uint8_t> member_labels;
    for (std::size_t i = 0; i < images.size(); ++i)
      if (images.splits[i] == split) {
        members.push_back(i);
        member_labels.push_back(images.labels[i]);
      }
    // A separate stream per split: adding test rows never reshuffles train.
    const auto plan = plan_shards(member_labels, options.images_per_shard,
                                  options.seed * 0x100000001B3ULL + static_cast<std::uint64_t>(s));
    SplitEntry& entry = manifest.split(split);
    entry.stats = image_statistics(images, split);
    for (std::size_t k = 0; k < plan.size(); ++k) {
      std::vector<std::size_t> shard_members;
      ShardEntry shard;
      shard.file = shard_file_name(split, k, plan.size());
      for (std::size_t position : plan[k]) {
        shard_members.push_back(members[position]);
        ++shard.class_counts[member_labels[position]];
      }
      shard.images = shard_members.size();
      const fs::path path = staging.path() / shard.file;
      write_one_shard(path, images, shard_members, split, k, plan.size(), options.dataset_name);
      shard.bytes = fs::file_size(path);
      shard.sha256 = sha256_file(path);
      entry.images += shard.images;
      for (int c = 0; c < kNumEmotions; ++c) entry.class_counts[c] += shard.class_counts[c];
      entry.shards.push_back(std::move(shard));
    }
  }
  write_file_atomically(staging.path() / kManifestFileName,
                        manifest_to_json(manifest).dump(2) + "\n");
  staging.commit();
  return manifest;
}

}  // namespace fer
