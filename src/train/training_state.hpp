#pragma once
// What a checkpoint records of the training beyond the tensors: how far the run got,
// its best epoch so far, the plateau schedule's and the time budget's state, and the
// per-epoch history. Written into every checkpoint's "meta" and read back on resume,
// through this one pair of functions. No LibTorch.

#include <cstdint>
#include <nlohmann/json.hpp>

#include "train/lr_schedule.hpp"

namespace fer {

struct TrainingState {
  int epochs_completed = 0;
  std::int64_t global_step = 0;
  double best_val_accuracy = -1;
  int best_epoch = 0;
  int epochs_without_gain = 0;
  PlateauState plateau;
  // Time-budgeted runs (train.time_budget_minutes): seconds spent by the run's jobs so
  // far and their plan; 0 planned epochs: not recorded (no budget, or an older run).
  double budget_used_seconds = 0;
  int budget_planned_epochs = 0;
  int world_size = 1;                                // ranks of the job that wrote it
  nlohmann::json history = nlohmann::json::array();  // one record per epoch
};

// The state's keys of a checkpoint's meta (the writer adds the format version, the
// configuration and the LibTorch version).
nlohmann::json to_json(const TrainingState& state);
// Reads them back; throws nlohmann::json::exception naming a missing key. The budget
// and world-size keys are optional (checkpoints written before they existed).
TrainingState training_state_from_json(const nlohmann::json& meta);

}  // namespace fer
