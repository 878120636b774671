#pragma once
// One entry point for every input form fer-shard accepts: detects the form from the
// input (a directory is the image-folder edition, a file is fer2013.csv) unless told,
// reads it, and joins FERPlus votes when given.

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "data/image_set.hpp"

namespace fer {

enum class InputFormat { kAuto, kCsv, kFolder };
std::optional<InputFormat> input_format_from_name(std::string_view name);

struct IngestRequest {
  std::filesystem::path input;
  InputFormat format = InputFormat::kAuto;
  std::optional<std::filesystem::path> ferplus;  // fer2013new.csv, joined onto a CSV input
  IngestOptions options;
};

ImageSet ingest(const IngestRequest& request, IngestReport& report);

// The report as JSON for the manifest and as text for people.
nlohmann::json report_to_json(const IngestReport& report, const ImageSet& images);
std::string report_to_text(const IngestReport& report, const ImageSet& images);

}  // namespace fer
