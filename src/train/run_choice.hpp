#pragma once
// Where a training job's run lives under checkpoint.dir and what it continues: decided
// by rank 0 alone (its clock names new runs, its disk holds the run), then shared with
// every rank, the checkpoint's bytes included (no shared file system needed). No
// LibTorch.

#include <filesystem>
#include <optional>
#include <string>

#include "dist/process_group.hpp"
#include "train/trainer.hpp"

namespace fer {

struct RunChoice {
  std::string run;     // the run's name: its directory under checkpoint.dir
  std::string secret;  // the run's secret (read from the run, or created for a new one)
  std::optional<std::filesystem::path> resume_from;  // the checkpoint it continues
  std::string checkpoint_bytes;  // that checkpoint, checked against its run's manifest
};

// Rank 0: --resume auto continues the named run, or the newest run of the config, and
// is an error when there is none (never a silent new run); a run directory that holds
// checkpoints only continues itself. Creates the run directory and its secret. Throws
// InputError naming the path and what to do.
RunChoice choose_run(const TrainRequest& request, const std::filesystem::path& checkpoints_dir);

// Every rank: rank 0's choice (collective).
void share_run_choice(RunChoice& choice, ProcessGroup& group);

}  // namespace fer
