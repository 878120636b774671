#include <gtest/gtest.h>

#include "train/training_state.hpp"

namespace fer {
namespace {
using nlohmann::json;

TrainingState some_state() {
  TrainingState state;
  state.epochs_completed = 7;
  state.global_step = 12345678901;  // beyond 32 bits
  state.best_val_accuracy = 0.6543;
  state.best_epoch = 5;
  state.epochs_without_gain = 2;
  state.plateau = {0.25, 0.61, 1};
  state.budget_used_seconds = 1234.5;
  state.budget_planned_epochs = 31;
  state.world_size = 4;
  state.history = json::array({{{"epoch", 1}, {"val_accuracy", 0.5}}});
  return state;
}

TEST(TrainingState, SurvivesTheCheckpointMetaUnchanged) {
  const TrainingState state = some_state();
  // Through the text a checkpoint stores, as a resume reads it.
  const TrainingState back = training_state_from_json(json::parse(to_json(state).dump()));
  EXPECT_EQ(back.epochs_completed, 7);
  EXPECT_EQ(back.global_step, 12345678901);
  EXPECT_DOUBLE_EQ(back.best_val_accuracy, 0.6543);
  EXPECT_EQ(back.best_epoch, 5);
  EXPECT_EQ(back.epochs_without_gain, 2);
  EXPECT_DOUBLE_EQ(back.plateau.factor, 0.25);
  EXPECT_DOUBLE_EQ(back.plateau.best_accuracy, 0.61);
  EXPECT_EQ(back.plateau.epochs_without_gain, 1);
  EXPECT_DOUBLE_EQ(back.budget_used_seconds, 1234.5);
  EXPECT_EQ(back.budget_planned_epochs, 31);
  EXPECT_EQ(back.world_size, 4);
  EXPECT_EQ(back.history, state.history);
}

TEST(TrainingState, BudgetKeysOnlyForABudgetedRunAndOptionalOnRead) {
  TrainingState state = some_state();
  state.budget_planned_epochs = 0;  // no budget
  json meta = to_json(state);
  EXPECT_FALSE(meta.contains("budget_used_seconds"));
  EXPECT_FALSE(meta.contains("budget_planned_epochs"));
  // A checkpoint written before world_size and the budget existed still resumes.
  meta.erase("world_size");
  const TrainingState back = training_state_from_json(meta);
  EXPECT_EQ(back.budget_planned_epochs, 0);
  EXPECT_DOUBLE_EQ(back.budget_used_seconds, 0);
  EXPECT_EQ(back.world_size, 1);
}

TEST(TrainingState, AMissingKeyIsNamed) {
  json meta = to_json(some_state());
  meta.erase("best_epoch");
  try {
    training_state_from_json(meta);
    FAIL() << "no error for a meta without best_epoch";
  } catch (const json::exception& e) {
    EXPECT_NE(std::string(e.what()).find("best_epoch"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fer
