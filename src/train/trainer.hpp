#pragma once
// fer-train's engine: builds the model from the configuration, trains it on the
// shards' train split, validates on val every epoch (the best checkpoint is chosen on
// val, never on test), writes checkpoints and metrics, and resumes exactly. No
// LibTorch in this header: the executable stays cheap to compile.

#include <filesystem>
#include <string>

#include "config/train_config.hpp"
#include "dist/process_group.hpp"

namespace fer {

struct TrainRequest {
  TrainConfig config;
  std::string config_name = "custom";  // stem of the YAML file; names runs
  std::string run;                     // run name; default <config_name>-<YYYYmmdd-HHMMSS>
  std::string resume;  // "", "auto" (the newest run of this config, if any), or a checkpoint/run
  int stop_after_epoch = 0;  // stop after this epoch as if interrupted (0: run to the end)
  // Resuming from before the run's latest checkpoint deletes the later checkpoints:
  // only with this set (the coordinator refuses it otherwise).
  bool drop_later_epochs = false;
  bool progress = true;
  // The job's ranks (fer-train's main creates it); nullptr: a process of its own.
  // Every rank calls train() with the same request; rank 0 writes the run directory.
  ProcessGroup* group = nullptr;
};

struct TrainResult {
  std::filesystem::path run_dir;
  int epochs_completed = 0;
  double best_val_accuracy = 0;
  int best_epoch = 0;
  double last_val_accuracy = 0;
  double images_per_second = 0;        // all ranks together
  double allreduce_wait_per_step = 0;  // seconds per step waiting for gradient reductions
};

TrainResult train(const TrainRequest& request);

}  // namespace fer
