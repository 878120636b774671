#pragma once
// The checkpoint format, shared by fer-train (writes and resumes checkpoints) and the
// tools that use trained models (fer-eval, fer-predict). A checkpoint is a LibTorch
// archive holding "model" (the FerNet tensors), "optimizer", "rng_cpu" and "meta" (a
// JSON text: format version, epoch, step, the full configuration as YAML, history).

#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "config/train_config.hpp"
#include "model/fer_net.hpp"

namespace fer {

inline constexpr int kCheckpointFormatVersion = 1;

struct CheckpointArchive {
  torch::serialize::InputArchive archive;
  nlohmann::json meta;
  TrainConfig config;  // the stored configuration, applied on top of the given base
};

// Reads a checkpoint's bytes (`path` names it in messages): a readable archive, this
// format version, a valid stored configuration. Throws CorruptDataError otherwise.
CheckpointArchive open_checkpoint(const std::string& bytes, const std::filesystem::path& path,
                                  const TrainConfig& base = TrainConfig());
// The same from a file.
CheckpointArchive open_checkpoint_file(const std::filesystem::path& path);

// A model built from the checkpoint's configuration with its tensors loaded; throws
// CorruptDataError when the tensors do not fit (missing, other shapes).
FerNet load_model(CheckpointArchive& checkpoint, const std::filesystem::path& path);

}  // namespace fer
