#include "model/checkpoint_archive.hpp"

#include <fstream>
#include <sstream>

#include "common/error.hpp"
#include "pipeline/augment.hpp"

namespace fer {
namespace {

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

}  // namespace

CheckpointArchive open_checkpoint(const std::string& bytes, const std::filesystem::path& path,
                                  const TrainConfig& base) {
  CheckpointArchive checkpoint;
  try {
    std::istringstream stream(bytes);
    checkpoint.archive.load_from(stream);
    c10::IValue meta_value;
    checkpoint.archive.read("meta", meta_value);
    checkpoint.meta = nlohmann::json::parse(meta_value.toStringRef());
  } catch (const std::exception& e) {
    throw CorruptDataError(
        path.string() +
        ": not a readable fer-train checkpoint (truncated or damaged?): " + first_line(e.what()));
  }
  const int version = checkpoint.meta.value("format_version", -1);
  if (version != kCheckpointFormatVersion)
    throw CorruptDataError(path.string() + ": checkpoint format version " +
                           std::to_string(version) + ", this build reads " +
                           std::to_string(kCheckpointFormatVersion));
  if (!checkpoint.meta.contains("config") || !checkpoint.meta["config"].is_string())
    throw CorruptDataError(path.string() + ": checkpoint without its configuration");
  checkpoint.config = base;
  apply_config_text(checkpoint.config, checkpoint.meta["config"].get<std::string>(),
                    path.string() + " (stored config)");
  return checkpoint;
}

CheckpointArchive open_checkpoint_file(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw InputError(path.string() + ": cannot open the checkpoint");
  std::ostringstream bytes;
  bytes << file.rdbuf();
  return open_checkpoint(bytes.str(), path);
}

FerNet load_model(CheckpointArchive& checkpoint, const std::filesystem::path& path) {
  FerNet model(checkpoint.config.model, model_input_size(checkpoint.config.augment));
  try {
    torch::serialize::InputArchive model_archive;
    checkpoint.archive.read("model", model_archive);
    model->load(model_archive);
  } catch (const c10::Error& e) {
    throw CorruptDataError(path.string() +
                           ": checkpoint does not fit the model: " + first_line(e.what()));
  }
  return model;
}

}  // namespace fer
