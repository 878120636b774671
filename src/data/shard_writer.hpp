#pragma once
// Writes an ImageSet as balanced, class-stratified HDF5 shards plus manifest.json,
// into a staging directory that replaces the output directory in one step.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/image_set.hpp"
#include "data/manifest.hpp"

namespace fer {

struct ShardWriteOptions {
  std::string dataset_name;
  std::size_t images_per_shard = 4096;  // upper bound; shards of a split differ by at most 1
  std::uint64_t seed = 0;
  bool overwrite = false;     // replace an existing output directory
  nlohmann::json created_by;  // provenance stored in the manifest
};

// Assigns the items (given by label) to ceil(n / images_per_shard) shards: every
// class is shuffled (seeded) and dealt round robin, so shard sizes differ by at most
// one and each class's count per shard differs by at most one; each shard's order is
// then shuffled so classes are interleaved. Returns positions into `labels`.
std::vector<std::vector<std::size_t>> plan_shards(const std::vector<std::uint8_t>& labels,
                                                  std::size_t images_per_shard, std::uint64_t seed);

// Writes `out_dir` (= shards/<dataset>) atomically and returns its manifest. Throws
// InputError if it exists and !overwrite; the previous directory stays intact on any failure.
Manifest write_shards(const ImageSet& images, const std::filesystem::path& out_dir,
                      const ShardWriteOptions& options);

// Soft labels (FER id order) from FERPlus raw votes: the votes of the seven FER2013
// emotions, normalised to sum to 1 (contempt, unknown and NF votes are left out).
std::array<float, kNumEmotions> soft_labels_from_votes(const std::uint8_t* votes10);

}  // namespace fer
