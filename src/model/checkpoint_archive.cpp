#include "model/checkpoint_archive.hpp"

#include <fstream>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

#include "common/error.hpp"

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

namespace {
std::string shape_text(const torch::Tensor& tensor) {
  std::string text = "[";
  for (std::int64_t d = 0; d < tensor.dim(); ++d)
    text += (d ? ", " : "") + std::to_string(tensor.size(d));
  return text + "]";
}
}  // namespace

FerNet load_model(CheckpointArchive& checkpoint, const std::filesystem::path& path) {
  FerNet model(checkpoint.config.model, model_input_size(checkpoint.config.augment));
  // Module::load() replaces each tensor with the stored one whatever its shape, so a
  // stored configuration that does not describe the tensors would only fail later,
  // inside a forward pass, with a C++ stack trace: compare the shapes here.
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> expected;
  for (const auto& item : model->named_parameters())
    expected.push_back({item.key(), item.value().sizes().vec()});
  for (const auto& item : model->named_buffers())
    expected.push_back({item.key(), item.value().sizes().vec()});
  try {
    torch::serialize::InputArchive model_archive;
    checkpoint.archive.read("model", model_archive);
    model->load(model_archive);
  } catch (const c10::Error& e) {
    throw CorruptDataError(path.string() +
                           ": checkpoint does not fit the model: " + first_line(e.what()));
  }
  std::map<std::string, torch::Tensor> loaded;
  for (const auto& item : model->named_parameters()) loaded[item.key()] = item.value();
  for (const auto& item : model->named_buffers()) loaded[item.key()] = item.value();
  for (const auto& [name, sizes] : expected) {
    const torch::Tensor& tensor = loaded.at(name);
    if (tensor.sizes().vec() == sizes) continue;
    torch::Tensor want = torch::empty(sizes);
    throw CorruptDataError(path.string() + ": tensor '" + name + "' is " + shape_text(tensor) +
                           " in the checkpoint, but its stored configuration describes " +
                           shape_text(want) +
                           " (the configuration and the tensors do not belong together)");
  }
  return model;
}

}  // namespace fer
