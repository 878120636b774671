#include "data/shard_reader.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "common/sha256.hpp"
#include "data/shard_format.hpp"

namespace fer {
namespace fs = std::filesystem;
namespace {

// Opens a scalar (single-value) attribute; anything else is damage, and reading it
// into one value would overrun the destination.
H5Handle open_scalar_attribute(hid_t object, const char* name, const std::string& where) {
  if (H5Aexists(object, name) <= 0)
    throw CorruptDataError(where + ": missing attribute '" + name + "'");
  H5Handle attribute(h5_check(H5Aopen(object, name, H5P_DEFAULT), where, name), H5Aclose);
  H5Handle space(h5_check(H5Aget_space(attribute.get()), where, name), H5Sclose);
  if (H5Sget_simple_extent_npoints(space.get()) != 1)
    throw CorruptDataError(where + ": attribute '" + name + "' should hold one value");
  return attribute;
}

std::string read_string_attribute(hid_t object, const char* name, const std::string& where) {
  H5Handle attribute = open_scalar_attribute(object, name, where);
  H5Handle type(h5_check(H5Aget_type(attribute.get()), where, name), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) <= 0)
    throw CorruptDataError(where + ": attribute '" + name + "' is not a string");
  char* value = nullptr;
  h5_check(H5Aread(attribute.get(), type.get(), &value), where, name);
  std::string result = value ? value : "";
  H5free_memory(value);
  return result;
}

int read_int_attribute(hid_t object, const char* name, const std::string& where) {
  H5Handle attribute = open_scalar_attribute(object, name, where);
  int value = 0;
  if (H5Aread(attribute.get(), H5T_NATIVE_INT, &value) < 0)
    throw CorruptDataError(where + ": attribute '" + name + "' is not an integer");
  return value;
}

H5Handle open_dataset(hid_t file, const char* name, const std::vector<hsize_t>& expected_dims,
                      const std::string& where) {
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0)
    throw CorruptDataError(where + ": missing dataset '" + name + "'");
  H5Handle dataset(h5_check(H5Dopen2(file, name, H5P_DEFAULT), where, name), H5Dclose);
  H5Handle space(h5_check(H5Dget_space(dataset.get()), where, name), H5Sclose);
  std::vector<hsize_t> dims(
      static_cast<std::size_t>(std::max(0, H5Sget_simple_extent_ndims(space.get()))));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  if (dims != expected_dims) {
    auto show = [](const std::vector<hsize_t>& d) {
      std::string s = "[";
      for (std::size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
      return s + "]";
    };
    throw CorruptDataError(where + ": dataset '" + name + "' has shape " + show(dims) +
                           ", expected " + show(expected_dims));
  }
  return dataset;
}

void read_whole(hid_t dataset, hid_t memory_type, void* out, const std::string& where,
                const char* name) {
  if (H5Dread(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
    throw CorruptDataError(where + ": cannot read dataset '" + name + "' (damaged file?)");
}

}  // namespace

SplitReader::SplitReader(const fs::path& dir, const SplitEntry& entry, Split split,
                         bool has_soft_labels)
    : split_(split) {
  silence_hdf5_errors();
  std::size_t first = 0;
  for (std::size_t k = 0; k < entry.shards.size(); ++k) {
    const ShardEntry& listed = entry.shards[k];
    Shard shard;
    shard.path = dir / listed.file;
    shard.first = first;
    shard.count = listed.images;
    const std::string where = shard.path.string();
    std::error_code ec;
    if (!fs::is_regular_file(shard.path, ec))
      throw CorruptDataError(where + ": missing (listed in " + (dir / kManifestFileName).string() +
                             ")");
    const std::uint64_t bytes = fs::file_size(shard.path, ec);
    if (bytes != listed.bytes)
      throw CorruptDataError(where + ": size is " + std::to_string(bytes) +
                             " bytes, the manifest says " + std::to_string(listed.bytes) +
                             " (truncated or modified)");
    shard.file = H5Handle(H5Fopen(shard.path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!shard.file.valid())
      throw CorruptDataError(where + ": not a readable HDF5 file (damaged?)");
    const hid_t file = shard.file.get();
    const int version = read_int_attribute(file, h5names::kFormatVersion, where);
    if (version != kShardFormatVersion)
      throw CorruptDataError(where + ": format_version " + std::to_string(version) +
                             ", this build reads " + std::to_string(kShardFormatVersion));
    const std::string stored_split = read_string_attribute(file, h5names::kSplit, where);
    if (stored_split != split_name(split))
      throw CorruptDataError(where + ": holds split '" + stored_split +
                             "', the manifest lists it under '" + std::string(split_name(split)) +
                             "'");
    const hsize_t n = listed.images;
    shard.images =
        open_dataset(file, h5names::kImages, {n, hsize_t(kImageSide), hsize_t(kImageSide)}, where);
    shard.file_space =
        H5Handle(h5_check(H5Dget_space(shard.images.get()), where, "H5Dget_space"), H5Sclose);
    H5Handle labels = open_dataset(file, h5names::kLabels, {n}, where);
    labels_.resize(first + n);
    if (n > 0)
      read_whole(labels.get(), H5T_NATIVE_UINT8, labels_.data() + first, where, h5names::kLabels);
    ClassCounts counts{};
    for (std::size_t i = first; i < first + n; ++i) {
      if (labels_[i] >= kNumEmotions)
        throw CorruptDataError(where + ": label " + std::to_string(labels_[i]) + " at index " +
                               std::to_string(i - first) + " is not a FER2013 id 0..6");
      ++counts[labels_[i]];
    }
    if (counts != listed.class_counts)
      throw CorruptDataError(where +
                             ": per-class label counts differ from the manifest (modified?)");
    if (has_soft_labels) {
      H5Handle soft = open_dataset(file, h5names::kSoftLabels, {n, hsize_t(kNumEmotions)}, where);
      soft_labels_.resize((first + n) * kNumEmotions);
      if (n > 0)
        read_whole(soft.get(), H5T_NATIVE_FLOAT, soft_labels_.data() + first * kNumEmotions, where,
                   h5names::kSoftLabels);
    }
    first += n;
    shards_.push_back(std::move(shard));
  }
  if (first != entry.images)
    throw CorruptDataError(dir.string() + "/" + std::string(kManifestFileName) + ": split '" +
                           std::string(split_name(split)) + "' lists " +
                           std::to_string(entry.images) + " images but its shards hold " +
                           std::to_string(first));
}

std::size_t SplitReader::shard_of(std::size_t index) const {
  auto it = std::upper_bound(shards_.begin(), shards_.end(), index,
                             [](std::size_t i, const Shard& s) { return i < s.first; });
  return static_cast<std::size_t>(it - shards_.begin()) - 1;
}

void SplitReader::read_run(Shard& shard, std::size_t local_begin, std::size_t count,
                           std::uint8_t* out) {
  const hsize_t start[3] = {local_begin, 0, 0};
  const hsize_t extent[3] = {count, kImageSide, kImageSide};
  const std::string where = shard.path.string();
  h5_check(
      H5Sselect_hyperslab(shard.file_space.get(), H5S_SELECT_SET, start, nullptr, extent, nullptr),
      where, "H5Sselect_hyperslab");
  H5Handle memory(h5_check(H5Screate_simple(3, extent, nullptr), where, "H5Screate_simple"),
                  H5Sclose);
  if (H5Dread(shard.images.get(), H5T_NATIVE_UINT8, memory.get(), shard.file_space.get(),
              H5P_DEFAULT, out) < 0)
    throw CorruptDataError(where + ": cannot read images " + std::to_string(local_begin) + ".." +
                           std::to_string(local_begin + count - 1) + " (damaged file?)");
}

void SplitReader::read_range(std::size_t begin, std::size_t count, std::uint8_t* out) {
  if (begin + count > size() || begin + count < begin)
    throw std::out_of_range("read_range: images [" + std::to_string(begin) + ", " +
                            std::to_string(begin + count) + ") outside split '" +
                            std::string(split_name(split_)) + "' of " + std::to_string(size()));
  if (cached()) {
    std::copy_n(cache_.data() + begin * kImagePixels, count * kImagePixels, out);
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  while (count > 0) {
    Shard& shard = shards_[shard_of(begin)];
    const std::size_t local = begin - shard.first;
    const std::size_t take = std::min(count, shard.count - local);
    read_run(shard, local, take, out);
    out += take * kImagePixels;
    begin += take;
    count -= take;
  }
}

void SplitReader::read(const std::size_t* indices, std::size_t count, std::uint8_t* out) {
  for (std::size_t k = 0; k < count; ++k)
    if (indices[k] >= size())
      throw std::out_of_range("read: index " + std::to_string(indices[k]) + " outside split '" +
                              std::string(split_name(split_)) + "' of " + std::to_string(size()));
  if (cached()) {
    for (std::size_t k = 0; k < count; ++k)
      std::copy_n(cache_.data() + indices[k] * kImagePixels, kImagePixels, out + k * kImagePixels);
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  std::size_t k = 0;
  while (k < count) {
    Shard& shard = shards_[shard_of(indices[k])];
    std::size_t run = 1;
    while (k + run < count && indices[k + run] == indices[k] + run &&
           indices[k + run] < shard.first + shard.count)
      ++run;
    read_run(shard, indices[k] - shard.first, run, out + k * kImagePixels);
    k += run;
  }
}

void SplitReader::cache_in_memory() {
  if (cached() || size() == 0) return;
  std::vector<std::uint8_t> all(size() * kImagePixels);
  read_range(0, size(), all.data());
  cache_ = std::move(all);
}

std::vector<std::string> SplitReader::sources() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> all;
  all.reserve(size());
  for (Shard& shard : shards_) {
    const std::string where = shard.path.string();
    H5Handle dataset = open_dataset(shard.file.get(), h5names::kSources, {shard.count}, where);
    if (shard.count == 0) continue;
    H5Handle type(h5_check(H5Dget_type(dataset.get()), where, "H5Dget_type"), H5Tclose);
    std::vector<char*> values(shard.count, nullptr);
    read_whole(dataset.get(), type.get(), values.data(), where, h5names::kSources);
    for (char* value : values) {
      all.emplace_back(value ? value : "");
      H5free_memory(value);
    }
  }
  return all;
}

ShardDataset::ShardDataset(const fs::path& dir, ShardOpenOptions options)
    : dir_(dir), manifest_(load_manifest(dir)) {
  // Structure first (missing, truncated, not HDF5: the more telling message), then
  // the bytes themselves.
  for (int s = 0; s < kNumSplits; ++s)
    splits_[s] = std::make_unique<SplitReader>(dir_, manifest_.splits[s], static_cast<Split>(s),
                                               manifest_.has_soft_labels);
  if (options.verify_checksums) verify_checksums();
}

void ShardDataset::verify_checksums() const {
  for (const SplitEntry& entry : manifest_.splits)
    for (const ShardEntry& shard : entry.shards) {
      const fs::path path = dir_ / shard.file;
      std::error_code ec;
      if (!fs::is_regular_file(path, ec)) throw CorruptDataError(path.string() + ": missing");
      const std::string actual = sha256_file(path);
      if (actual != shard.sha256)
        throw CorruptDataError(path.string() + ": SHA-256 is " + actual + ", the manifest says " +
                               shard.sha256 + " (modified or damaged)");
    }
}

}  // namespace fer
