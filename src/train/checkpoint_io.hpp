#pragma once
// The trainer's side of checkpoints: the bytes of one (model, optimizer, the CPU
// generator's state and the meta JSON), and loading one into a running job only after
// every check passed. The format itself is model/checkpoint_archive.hpp's.

#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "config/train_config.hpp"
#include "model/fer_net.hpp"

namespace fer {

std::string serialize_checkpoint(FerNet& model, torch::optim::Optimizer& optimizer,
                                 const nlohmann::json& meta);

// Loads a checkpoint (its bytes; `path` names it in messages) into `model` and
// `optimizer`: a readable archive, its format version, the same architecture and
// optimizer kind as `config`, every tensor present with the right shape (loaded into a
// scratch model first, so a checkpoint that does not fit is never half-loaded). The
// optimizer keeps `config`'s hyper-parameters. Returns the meta; `saved` receives the
// configuration stored in the checkpoint.
nlohmann::json load_checkpoint(const std::string& bytes, const std::filesystem::path& path,
                               const TrainConfig& config, FerNet& model,
                               torch::optim::Optimizer& optimizer, TrainConfig& saved);

// "section.key: old -> new" for every setting that differs, joined by `separator`.
std::string changed_settings(const TrainConfig& before, const TrainConfig& after,
                             const std::string& separator = ", ");

}  // namespace fer
