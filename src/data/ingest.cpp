#include "data/ingest.hpp"

#include <sstream>

#include "common/error.hpp"
#include "common/text.hpp"
#include "data/fer_csv.hpp"
#include "data/image_folder.hpp"

namespace fer {

std::optional<InputFormat> input_format_from_name(std::string_view name) {
  if (name == "auto") return InputFormat::kAuto;
  if (name == "csv") return InputFormat::kCsv;
  if (name == "folder") return InputFormat::kFolder;
  return std::nullopt;
}

ImageSet ingest(const IngestRequest& request, IngestReport& report) {
  std::error_code ec;
  if (!std::filesystem::exists(request.input, ec))
    throw InputError(request.input.string() + ": no such file or directory");
  InputFormat format = request.format;
  if (format == InputFormat::kAuto)
    format =
        std::filesystem::is_directory(request.input, ec) ? InputFormat::kFolder : InputFormat::kCsv;
  if (format == InputFormat::kFolder) {
    if (request.ferplus)
      throw InputError(
          "--ferplus joins votes by row order onto fer2013.csv; it cannot be used with "
          "the image-folder input " +
          request.input.string());
    return read_image_folder(request.input, request.options, report);
  }
  if (std::filesystem::is_directory(request.input, ec))
    throw InputError(request.input.string() +
                     ": is a directory, but --format csv expects fer2013.csv");
  // Parse FERPlus first: its errors are cheaper to find than a 300 MB CSV's.
  std::optional<FerPlusCsv> votes;
  if (request.ferplus) votes = read_ferplus_csv(*request.ferplus);
  Fer2013Csv csv = read_fer2013_csv(request.input, request.options, report);
  if (votes) apply_ferplus(csv, *votes, report);
  return std::move(csv.images);
}

nlohmann::json report_to_json(const IngestReport& report, const ImageSet& images) {
  return {{"input_format", report.input_format},
          {"images", images.size()},
          {"converted_to_48x48_gray", report.converted},
          {"ignored_non_image_files", report.ignored_files},
          {"moved_train_to_val", report.split_for_val},
          {"skipped_invalid", report.invalid.count()},
          {"skipped_examples", report.invalid.first_messages()},
          {"ferplus_dropped_no_majority", report.ferplus_no_majority},
          {"ferplus_dropped_not_fer_class", report.ferplus_not_fer_class}};
}

std::string report_to_text(const IngestReport& report, const ImageSet& images) {
  std::ostringstream out;
  out << "input: " << report.input_format << ", "
      << with_thousands(static_cast<long long>(images.size())) << " images\n";
  if (report.converted) out << "  converted to 48x48 grayscale: " << report.converted << "\n";
  if (report.ignored_files) out << "  ignored (not image files): " << report.ignored_files << "\n";
  if (report.split_for_val)
    out << "  moved from train to val (stratified, --val-fraction): " << report.split_for_val
        << "\n";
  if (report.ferplus_no_majority || report.ferplus_not_fer_class)
    out << "  FERPlus dropped: " << report.ferplus_no_majority << " without a majority, "
        << report.ferplus_not_fer_class << " with a contempt/unknown/NF majority\n";
  if (report.invalid.count()) {
    out << "  skipped invalid items: " << report.invalid.count() << " (first "
        << report.invalid.first_messages().size() << " below)\n";
    for (const auto& message : report.invalid.first_messages()) out << "    " << message << "\n";
  }
  return out.str();
}

}  // namespace fer
