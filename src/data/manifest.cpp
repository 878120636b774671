#include "data/manifest.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/error.hpp"
#include "common/text.hpp"
#include "data/shard_format.hpp"

namespace fer {
namespace {

using nlohmann::json;

// Fetches json[key] as T, or throws naming the file and the key path.
template <typename T>
T get_field(const json& object, const char* key, const std::string& where) {
  if (!object.is_object() || !object.contains(key))
    throw CorruptDataError(where + ": missing key '" + key + "'");
  try {
    return object.at(key).get<T>();
  } catch (const json::exception&) {
    throw CorruptDataError(where + ": key '" + key + "' has the wrong type (" +
                           object.at(key).type_name() + ")");
  }
}

ClassCounts counts_from(const json& object, const std::string& where) {
  auto values = get_field<std::vector<std::size_t>>(object, "class_counts", where);
  if (values.size() != kNumEmotions)
    throw CorruptDataError(where + ": class_counts must have " + std::to_string(kNumEmotions) +
                           " entries, has " + std::to_string(values.size()));
  ClassCounts counts{};
  std::copy(values.begin(), values.end(), counts.begin());
  return counts;
}

}  // namespace

std::string shard_file_name(Split split, std::size_t index, std::size_t count) {
  char name[64];
  std::snprintf(name, sizeof name, "%s-%05zu-of-%05zu.h5", std::string(split_name(split)).c_str(),
                index, count);
  return name;
}

json manifest_to_json(const Manifest& manifest) {
  json splits = json::object();
  for (int s = 0; s < kNumSplits; ++s) {
    const SplitEntry& entry = manifest.splits[s];
    json shards = json::array();
    for (const ShardEntry& shard : entry.shards)
      shards.push_back({{"file", shard.file},
                        {"images", shard.images},
                        {"class_counts", shard.class_counts},
                        {"bytes", shard.bytes},
                        {"sha256", shard.sha256}});
    json split_json = {
        {"images", entry.images}, {"class_counts", entry.class_counts}, {"shards", shards}};
    if (entry.stats.present)
      split_json["image_stats"] = {{"pixel_mean", entry.stats.pixel_mean},
                                   {"pixel_std", entry.stats.pixel_std},
                                   {"sharpness", entry.stats.sharpness}};
    splits[std::string(kSplitNames[s])] = split_json;
  }
  json classes = json::array();
  for (auto name : kEmotionNames) classes.push_back(std::string(name));
  return {{"format", std::string(kShardFormatName)},
          {"format_version", manifest.format_version},
          {"dataset", manifest.dataset},
          {"image",
           {{"height", kImageSide}, {"width", kImageSide}, {"channels", 1}, {"dtype", "uint8"}}},
          {"classes", classes},
          {"has_soft_labels", manifest.has_soft_labels},
          {"checksum", "sha256"},
          {"splits", splits},
          {"created_by", manifest.created_by}};
}

Manifest manifest_from_json(const json& doc, const std::string& where) {
  if (get_field<std::string>(doc, "format", where) != kShardFormatName)
    throw CorruptDataError(where + ": 'format' is not '" + std::string(kShardFormatName) + "'");
  Manifest manifest;
  manifest.format_version = get_field<int>(doc, "format_version", where);
  if (manifest.format_version != kShardFormatVersion)
    throw CorruptDataError(where + ": format_version " + std::to_string(manifest.format_version) +
                           " is not supported (this build reads version " +
                           std::to_string(kShardFormatVersion) + "); re-run fer-shard");
  manifest.dataset = get_field<std::string>(doc, "dataset", where);
  manifest.has_soft_labels = get_field<bool>(doc, "has_soft_labels", where);
  auto classes = get_field<std::vector<std::string>>(doc, "classes", where);
  for (int c = 0; c < kNumEmotions; ++c)
    if (classes.size() != kNumEmotions || classes[c] != kEmotionNames[c])
      throw CorruptDataError(where + ": 'classes' must list the FER2013 classes in id order");
  const json& splits = doc.at("splits");
  for (int s = 0; s < kNumSplits; ++s) {
    const std::string split_key = std::string(kSplitNames[s]);
    const std::string split_where = where + ": splits." + split_key;
    if (!splits.contains(split_key))
      throw CorruptDataError(where + ": missing key 'splits." + split_key + "'");
    const json& split_json = splits.at(split_key);
    SplitEntry& entry = manifest.splits[s];
    entry.images = get_field<std::size_t>(split_json, "images", split_where);
    entry.class_counts = counts_from(split_json, split_where);
    if (split_json.contains("image_stats")) {
      const json& stats = split_json.at("image_stats");
      const std::string stats_where = split_where + ".image_stats";
      entry.stats.present = true;
      entry.stats.pixel_mean = get_field<double>(stats, "pixel_mean", stats_where);
      entry.stats.pixel_std = get_field<double>(stats, "pixel_std", stats_where);
      entry.stats.sharpness = get_field<double>(stats, "sharpness", stats_where);
    }
    for (const json& shard_json : get_field<json>(split_json, "shards", split_where)) {
      ShardEntry shard;
      shard.file = get_field<std::string>(shard_json, "file", split_where + ".shards");
      const std::string shard_where = split_where + ".shards[" + shard.file + "]";
      if (shard.file.empty() || shard.file.find('/') != std::string::npos || shard.file[0] == '.')
        throw CorruptDataError(shard_where + ": shard file must be a plain file name");
      shard.images = get_field<std::size_t>(shard_json, "images", shard_where);
      shard.class_counts = counts_from(shard_json, shard_where);
      shard.bytes = get_field<std::uint64_t>(shard_json, "bytes", shard_where);
      shard.sha256 = get_field<std::string>(shard_json, "sha256", shard_where);
      entry.shards.push_back(std::move(shard));
    }
  }
  if (doc.contains("created_by")) manifest.created_by = doc.at("created_by");
  return manifest;
}

Manifest load_manifest(const std::filesystem::path& dataset_dir) {
  const std::filesystem::path path = dataset_dir / kManifestFileName;
  std::ifstream in(path);
  if (!in)
    throw InputError(path.string() + ": cannot open (is " + dataset_dir.string() +
                     " a shard directory made by fer-shard?)");
  json doc;
  try {
    doc = json::parse(in);
  } catch (const json::parse_error& e) {
    throw CorruptDataError(path.string() + ": not valid JSON (" + e.what() + ")");
  }
  return manifest_from_json(doc, path.string());
}

std::string manifest_summary(const Manifest& manifest) {
  std::ostringstream out;
  out << "data set '" << manifest.dataset << "' (format v" << manifest.format_version
      << (manifest.has_soft_labels ? ", FERPlus soft labels" : "") << ")\n";
  char line[256];
  std::snprintf(line, sizeof line, "  %-6s %6s %8s", "split", "shards", "images");
  out << line;
  for (auto name : kEmotionNames) {
    std::snprintf(line, sizeof line, " %8s", std::string(name).c_str());
    out << line;
  }
  out << "\n";
  std::size_t total = 0;
  for (int s = 0; s < kNumSplits; ++s) {
    const SplitEntry& entry = manifest.splits[s];
    std::uint64_t bytes = 0;
    for (const auto& shard : entry.shards) bytes += shard.bytes;
    std::snprintf(line, sizeof line, "  %-6s %6zu %8s", std::string(kSplitNames[s]).c_str(),
                  entry.shards.size(),
                  with_thousands(static_cast<long long>(entry.images)).c_str());
    out << line;
    for (std::size_t count : entry.class_counts) {
      std::snprintf(line, sizeof line, " %8s",
                    with_thousands(static_cast<long long>(count)).c_str());
      out << line;
    }
    std::snprintf(line, sizeof line, "   %.1f MB", static_cast<double>(bytes) / 1e6);
    out << line;
    if (entry.stats.present && entry.images > 0) {
      std::snprintf(line, sizeof line, "   mean %.1f std %.1f sharpness %.1f",
                    entry.stats.pixel_mean, entry.stats.pixel_std, entry.stats.sharpness);
      out << line;
    }
    out << "\n";
    total += entry.images;
  }
  out << "  total  " << with_thousands(static_cast<long long>(total)) << " images\n";
  return out.str();
}

}  // namespace fer
