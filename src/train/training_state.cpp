#include "train/training_state.hpp"

namespace fer {
using nlohmann::json;

json to_json(const TrainingState& state) {
  json meta = {{"epoch", state.epochs_completed},
               {"global_step", state.global_step},
               {"best_val_accuracy", state.best_val_accuracy},
               {"best_epoch", state.best_epoch},
               {"epochs_without_gain", state.epochs_without_gain},
               {"plateau_factor", state.plateau.factor},
               {"plateau_best", state.plateau.best_accuracy},
               {"plateau_without_gain", state.plateau.epochs_without_gain},
               {"world_size", state.world_size},
               {"history", state.history}};
  if (state.budget_planned_epochs > 0) {
    meta["budget_used_seconds"] = state.budget_used_seconds;
    meta["budget_planned_epochs"] = state.budget_planned_epochs;
  }
  return meta;
}

TrainingState training_state_from_json(const json& meta) {
  TrainingState state;
  state.epochs_completed = meta.at("epoch").get<int>();
  state.global_step = meta.at("global_step").get<std::int64_t>();
  state.best_val_accuracy = meta.at("best_val_accuracy").get<double>();
  state.best_epoch = meta.at("best_epoch").get<int>();
  state.epochs_without_gain = meta.at("epochs_without_gain").get<int>();
  state.plateau.factor = meta.at("plateau_factor").get<double>();
  state.plateau.best_accuracy = meta.at("plateau_best").get<double>();
  state.plateau.epochs_without_gain = meta.at("plateau_without_gain").get<int>();
  state.budget_used_seconds = meta.value("budget_used_seconds", 0.0);
  state.budget_planned_epochs = meta.value("budget_planned_epochs", 0);
  state.world_size = meta.value("world_size", 1);
  state.history = meta.at("history");
  return state;
}

}  // namespace fer
