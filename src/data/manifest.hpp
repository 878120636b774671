#pragma once
// manifest.json of a shard directory: every shard with its image count, per-class
// counts, byte size and SHA-256; totals per split; how the data set was made.

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/emotions.hpp"

namespace fer {

using ClassCounts = std::array<std::size_t, kNumEmotions>;

struct ShardEntry {
  std::string file;  // a plain file name inside the data set directory
  std::size_t images = 0;
  ClassCounts class_counts{};
  std::uint64_t bytes = 0;
  std::string sha256;
};

struct ImageStats {
  bool present = false;  // absent in manifests written before the statistics existed
  double pixel_mean = 0;
  double pixel_std = 0;
  double sharpness = 0;  // mean variance of the 3x3 Laplacian
};

struct SplitEntry {
  std::size_t images = 0;
  ClassCounts class_counts{};
  ImageStats stats;
  std::vector<ShardEntry> shards;
};

struct Manifest {
  int format_version = 0;
  std::string dataset;
  bool has_soft_labels = false;
  std::array<SplitEntry, kNumSplits> splits;
  nlohmann::json created_by;  // tool, version, command line, options, ingest report

  const SplitEntry& split(Split s) const { return splits[static_cast<int>(s)]; }
  SplitEntry& split(Split s) { return splits[static_cast<int>(s)]; }
};

nlohmann::json manifest_to_json(const Manifest& manifest);
// Validates structure and types; throws CorruptDataError naming the file and key.
Manifest manifest_from_json(const nlohmann::json& json, const std::string& file_name);
Manifest load_manifest(const std::filesystem::path& dataset_dir);

// A human-readable summary: per split, shards, images, per-class counts.
std::string manifest_summary(const Manifest& manifest);

}  // namespace fer
