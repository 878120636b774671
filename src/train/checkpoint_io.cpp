#include "train/checkpoint_io.hpp"

#include <mutex>
#include <sstream>

#include "common/error.hpp"
#include "model/checkpoint_archive.hpp"

namespace fer {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// "section.key: old -> new" for every key whose line differs between two to_yaml()
// texts (same schema, same order).
std::string changed_lines(const std::string& before, const std::string& after,
                          const std::string& separator) {
  std::istringstream a(before), b(after);
  std::string line_a, line_b, section, changes;
  while (std::getline(a, line_a) && std::getline(b, line_b)) {
    if (!line_a.empty() && line_a[0] != ' ') section = line_a.substr(0, line_a.find(':'));
    if (line_a == line_b) continue;
    const auto colon = line_a.find(':');
    changes += (changes.empty() ? "" : separator) + section + "." + line_a.substr(2, colon - 2) +
               ":" + line_a.substr(colon + 1) + " ->" + line_b.substr(line_b.find(':') + 1);
  }
  return changes;
}

// Only the model-shaping keys must agree between a checkpoint and the run resuming it
// (the optimizer kind too: its saved state only fits the same kind).
TrainConfig architecture_of(const TrainConfig& config) {
  TrainConfig shape;
  shape.model = config.model;
  shape.augment.crop_size = config.augment.crop_size;
  shape.optim.optimizer = config.optim.optimizer;
  return shape;
}

// Optimizer::load() restores the saved hyper-parameters too; the configuration of
// the resuming run wins (the learning rate is set every step anyway).
void apply_optimizer_settings(torch::optim::Optimizer& optimizer, const OptimConfig& c) {
  for (auto& group : optimizer.param_groups()) {
    if (auto* sgd = dynamic_cast<torch::optim::SGDOptions*>(&group.options())) {
      sgd->momentum(c.momentum).nesterov(c.nesterov).weight_decay(c.weight_decay);
    } else if (auto* adamw = dynamic_cast<torch::optim::AdamWOptions*>(&group.options())) {
      adamw->betas({c.beta1, c.beta2}).weight_decay(c.weight_decay);
    }
  }
}

}  // namespace

std::string changed_settings(const TrainConfig& before, const TrainConfig& after,
                             const std::string& separator) {
  return changed_lines(to_yaml(before), to_yaml(after), separator);
}

std::string serialize_checkpoint(FerNet& model, torch::optim::Optimizer& optimizer,
                                 const json& meta) {
  torch::serialize::OutputArchive archive;
  torch::serialize::OutputArchive model_archive, optimizer_archive;
  model->save(model_archive);
  optimizer.save(optimizer_archive);
  archive.write("model", model_archive);
  archive.write("optimizer", optimizer_archive);
  archive.write("meta", c10::IValue(meta.dump()));
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  {
    std::lock_guard<std::mutex> lock(generator.mutex());
    archive.write("rng_cpu", generator.get_state());
  }
  std::ostringstream bytes;
  archive.save_to(bytes);
  return bytes.str();
}

json load_checkpoint(const std::string& bytes, const fs::path& path, const TrainConfig& config,
                     FerNet& model, torch::optim::Optimizer& optimizer, TrainConfig& saved) {
  CheckpointArchive checkpoint = open_checkpoint(bytes, path, config);
  saved = checkpoint.config;
  const std::string saved_shape = to_yaml(architecture_of(saved));
  const std::string shape = to_yaml(architecture_of(config));
  if (saved_shape != shape)
    throw InputError(path.string() +
                     ": the checkpoint's model or optimizer differs from this configuration "
                     "(checkpoint -> this run):\n  " +
                     changed_lines(saved_shape, shape, "\n  "));
  FerNet scratch = load_model(checkpoint, path);
  torch::serialize::InputArchive& archive = checkpoint.archive;
  try {
    torch::serialize::InputArchive optimizer_archive;
    archive.read("optimizer", optimizer_archive);
    torch::Tensor rng;
    archive.read("rng_cpu", rng);
    optimizer.load(optimizer_archive);  // before any weight is touched
    apply_optimizer_settings(optimizer, config.optim);
    torch::NoGradGuard no_grad;
    auto target = model->named_parameters();
    for (const auto& item : scratch->named_parameters()) target[item.key()].copy_(item.value());
    auto target_buffers = model->named_buffers();
    for (const auto& item : scratch->named_buffers())
      target_buffers[item.key()].copy_(item.value());
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(rng);
  } catch (const c10::Error& e) {
    std::string what = e.what();
    throw CorruptDataError(
        path.string() + ": checkpoint does not fit the model: " + what.substr(0, what.find('\n')));
  }
  return checkpoint.meta;
}

}  // namespace fer
