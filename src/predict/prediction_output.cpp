#include "predict/prediction_output.hpp"

#include <cstdio>
#include <ostream>

namespace fer {

namespace {

nlohmann::ordered_json image_fields(const ImagePrediction& image) {
  nlohmann::ordered_json record;
  record["file"] = image.source;
  if (image.frame) {
    record["frame"] = *image.frame;
    record["time"] = image.time_seconds;
  }
  if (!image.failed()) {
    record["width"] = image.width;
    record["height"] = image.height;
  }
  return record;
}

std::string source_text(const ImagePrediction& image) {
  if (!image.frame) return image.source;
  char frame[64];
  std::snprintf(frame, sizeof frame, " [frame %lld, %.3f s]", static_cast<long long>(*image.frame),
                image.time_seconds);
  return image.source + frame;
}

}  // namespace

nlohmann::ordered_json face_record(const FacePrediction& face, int top_k) {
  nlohmann::ordered_json record;
  record["box"] = {
      {"x", face.box.x}, {"y", face.box.y}, {"width", face.box.width}, {"height", face.box.height}};
  record["detected"] = face.detected;
  const std::vector<int> top = top_emotions(face.probabilities, top_k);
  const std::vector<int> best = top_emotions(face.probabilities, 1);
  record["emotion"] = kEmotionNames[static_cast<std::size_t>(best[0])];
  record["probability"] = face.probabilities[static_cast<std::size_t>(best[0])];
  nlohmann::ordered_json ranked = nlohmann::ordered_json::array();
  for (int id : top)
    ranked.push_back({{"emotion", kEmotionNames[static_cast<std::size_t>(id)]},
                      {"probability", face.probabilities[static_cast<std::size_t>(id)]}});
  record["top"] = std::move(ranked);
  nlohmann::ordered_json all = nlohmann::ordered_json::object();
  for (int id = 0; id < kNumEmotions; ++id)
    all[std::string(kEmotionNames[static_cast<std::size_t>(id)])] =
        face.probabilities[static_cast<std::size_t>(id)];
  record["probabilities"] = std::move(all);
  return record;
}

nlohmann::ordered_json prediction_records(const ImagePrediction& image, int top_k) {
  nlohmann::ordered_json records = nlohmann::ordered_json::array();
  if (image.failed() || image.faces.empty()) {
    nlohmann::ordered_json record = image_fields(image);
    record["status"] = image.failed() ? "error" : "no_face";
    if (image.failed())
      record["error"] = image.error;
    else
      record["faces"] = 0;
    records.push_back(std::move(record));
    return records;
  }
  for (std::size_t i = 0; i < image.faces.size(); ++i) {
    const FacePrediction& face = image.faces[i];
    nlohmann::ordered_json record = image_fields(image);
    record["status"] = "face";
    record["faces"] = image.faces.size();
    record["face"] = i;
    record.update(face_record(face, top_k));
    records.push_back(std::move(record));
  }
  return records;
}

TableWriter::TableWriter(std::ostream& out, int top_k) : out_(out), top_k_(top_k) {}

void TableWriter::write(const ImagePrediction& image) {
  char line[512];
  if (!header_written_) {
    std::snprintf(line, sizeof line, "%-40s %4s  %-21s  top %d\n", "file", "face", "box (x y w h)",
                  top_k_);
    out_ << line;
    header_written_ = true;
  }
  const std::string source = source_text(image);
  if (image.failed() || image.faces.empty()) {
    const std::string status = image.failed() ? "failed: " + image.error : "no face found";
    std::snprintf(line, sizeof line, "%-40s %4s  %-21s  ", source.c_str(), "-", "-");
    out_ << line << status << "\n" << std::flush;
    return;
  }
  for (std::size_t i = 0; i < image.faces.size(); ++i) {
    const FacePrediction& face = image.faces[i];
    char box[64];
    std::snprintf(box, sizeof box, "%d %d %d %d%s", face.box.x, face.box.y, face.box.width,
                  face.box.height, face.detected ? "" : " (all)");
    std::snprintf(line, sizeof line, "%-40s %4zu  %-21s ", source.c_str(), i + 1, box);
    out_ << line;
    for (int id : top_emotions(face.probabilities, top_k_)) {
      std::snprintf(line, sizeof line, " %s %.1f%%",
                    std::string(kEmotionNames[static_cast<std::size_t>(id)]).c_str(),
                    100 * face.probabilities[static_cast<std::size_t>(id)]);
      out_ << line;
    }
    out_ << "\n";
  }
  out_ << std::flush;
}

JsonLinesWriter::JsonLinesWriter(std::ostream& out, int top_k) : out_(out), top_k_(top_k) {}

void JsonLinesWriter::write(const ImagePrediction& image) {
  for (const nlohmann::ordered_json& record : prediction_records(image, top_k_))
    out_ << record.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  out_ << std::flush;
}

}  // namespace fer
