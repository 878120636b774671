#pragma once
// The on-disk shard format (documented in README.md, "Shard format"). Bump
// kShardFormatVersion on any incompatible change; readers refuse other versions.

#include <cstddef>
#include <string>
#include <string_view>

#include "data/emotions.hpp"

namespace fer {

inline constexpr int kShardFormatVersion = 1;
inline constexpr std::string_view kShardFormatName = "fer-shard";
inline constexpr std::string_view kManifestFileName = "manifest.json";

// Dataset and attribute names inside each .h5 file.
namespace h5names {
inline constexpr const char* kImages = "images";           // uint8 [N,48,48]
inline constexpr const char* kLabels = "labels";           // uint8 [N]
inline constexpr const char* kSources = "sources";         // vlen UTF-8 string [N]
inline constexpr const char* kVotes = "ferplus_votes";     // uint8 [N,10] (FERPlus only)
inline constexpr const char* kSoftLabels = "soft_labels";  // float32 [N,7] (FERPlus only)
inline constexpr const char* kFormat = "format";
inline constexpr const char* kFormatVersion = "format_version";
inline constexpr const char* kDataset = "dataset";
inline constexpr const char* kSplit = "split";
inline constexpr const char* kShardIndex = "shard_index";
inline constexpr const char* kShardCount = "shard_count";
inline constexpr const char* kClassNames = "class_names";
}  // namespace h5names

// Images per HDF5 chunk: 256 x 2,304 B = 576 KiB, inside HDF5's default 1 MiB chunk cache.
inline constexpr std::size_t kImagesPerChunk = 256;

// "train-00003-of-00008.h5"
std::string shard_file_name(Split split, std::size_t index, std::size_t count);

}  // namespace fer
