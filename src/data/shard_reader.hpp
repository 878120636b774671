#pragma once
// Reads a shard directory made by fer-shard: opens its manifest, checks every shard
// against it (presence, byte size, format version, shapes, label counts; SHA-256 on
// request) and reads images by index into caller-provided buffers. Reading into a
// reused buffer matters here: fresh memory costs ~12 us per 4 KiB page on these VMs.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "data/hdf5_handle.hpp"
#include "data/manifest.hpp"

namespace fer {

class SplitReader {
 public:
  SplitReader(const std::filesystem::path& dir, const SplitEntry& entry, Split split,
              bool has_soft_labels);
  SplitReader(const SplitReader&) = delete;
  SplitReader& operator=(const SplitReader&) = delete;

  Split split() const { return split_; }
  std::size_t size() const { return labels_.size(); }
  // Labels of all images, by index within the split (shard order).
  const std::vector<std::uint8_t>& labels() const { return labels_; }
  // size() x 7 FERPlus soft labels; empty when the data set has none.
  const std::vector<float>& soft_labels() const { return soft_labels_; }

  // Images [begin, begin + count) into `out` (count x 2,304 bytes).
  void read_range(std::size_t begin, std::size_t count, std::uint8_t* out);
  // Images at arbitrary indices: image indices[k] goes to out + k x 2,304.
  // Consecutive indices in the same shard are read with one HDF5 call.
  void read(const std::size_t* indices, std::size_t count, std::uint8_t* out);
  // Loads the whole split into memory once (FER2013's train split is 66 MB); later
  // reads are memcpy. Shuffled access through HDF5 costs tens of microseconds per
  // image, which a fast trainer cannot afford.
  void cache_in_memory();
  bool cached() const { return !cache_.empty(); }

  // Source row or file name of every image.
  std::vector<std::string> sources();

  // Thread safety: every read takes an internal lock (Debian's HDF5 is not thread-safe).

 private:
  struct Shard {
    std::filesystem::path path;
    H5Handle file;
    H5Handle images;
    H5Handle file_space;
    std::size_t first = 0;  // global index of its first image
    std::size_t count = 0;
  };
  std::size_t shard_of(std::size_t index) const;
  void read_run(Shard& shard, std::size_t local_begin, std::size_t count, std::uint8_t* out);

  Split split_;
  std::vector<Shard> shards_;
  std::vector<std::uint8_t> labels_;
  std::vector<float> soft_labels_;
  std::vector<std::uint8_t> cache_;  // size() x 2,304 when cache_in_memory() was called
  std::mutex mutex_;
};

struct ShardOpenOptions {
  // Recompute every shard's SHA-256 at open and compare with the manifest: one
  // sequential read (about 0.1 s for all of FER2013), so a flipped byte never trains
  // or scores silently. Off only where a tool measures reading itself.
  bool verify_checksums = true;
};

class ShardDataset {
 public:
  explicit ShardDataset(const std::filesystem::path& dir, ShardOpenOptions options = {});

  const std::filesystem::path& directory() const { return dir_; }
  const Manifest& manifest() const { return manifest_; }
  SplitReader& split(Split s) { return *splits_[static_cast<int>(s)]; }

  // Recomputes every shard's SHA-256; throws CorruptDataError naming the first
  // mismatching shard.
  void verify_checksums() const;

 private:
  std::filesystem::path dir_;
  Manifest manifest_;
  std::array<std::unique_ptr<SplitReader>, kNumSplits> splits_;
};

}  // namespace fer
