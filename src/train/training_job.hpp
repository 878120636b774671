#pragma once
// The training job behind train() (trainer.hpp), private to src/train: its set-up is
// in training_job_setup.cpp, its epochs and its end in trainer.cpp.

#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "data/shard_reader.hpp"
#include "dist/communicator.hpp"
#include "dist/gradient_bucketer.hpp"
#include "model/fer_net.hpp"
#include "pipeline/batch_loader.hpp"
#include "train/coordinator_link.hpp"
#include "train/lr_schedule.hpp"
#include "train/progress.hpp"
#include "train/run_choice.hpp"
#include "train/time_budget.hpp"
#include "train/trainer.hpp"
#include "train/training_state.hpp"
#include "train/validation.hpp"

namespace fer {

// One training job on this rank, in the order it runs: set-up (device, data, model,
// the run and what it resumes, the coordinator, the gradient buckets), then per epoch
// the training steps, the validation, the report and the checkpoint, then the summary.
// Every rank runs the same job; collectives happen at the same points on every rank.
class TrainingJob {
 public:
  explicit TrainingJob(const TrainRequest& request);
  TrainResult run();

 private:
  // The epoch's training figures (this rank's until train_epoch() sums them).
  struct EpochFigures {
    double loss_sum = 0;
    std::int64_t correct = 0;
    std::int64_t seen = 0;
    double lr = 0;
    double seconds = 0;
  };

  // Set-up, in this order.
  void set_up_device();
  void open_data();
  void build_model();
  void join_run();
  void resume(const TrainConfig& saved, const nlohmann::json& meta);
  void connect();
  void announce();

  // An epoch.
  bool run_epoch(int epoch);  // false: early stopping ends the run
  EpochFigures train_epoch(int epoch);
  void train_step(const Batch& batch, int epoch, EpochFigures& figures);
  void plan_budget_from_first_steps(std::size_t step);
  bool record_validation(int epoch, double val_accuracy);  // true: the best so far
  void correct_budget(int epoch);
  nlohmann::json epoch_record(int epoch, const EpochFigures& train,
                              const EvaluationCounts& val) const;
  void store_checkpoint(int epoch, const EvaluationCounts& val);
  void print_epoch(int epoch, const nlohmann::json& record, const EvaluationCounts& val);
  void stop_if_checkpoints_lost(int epoch);

  // The end.
  TrainResult finish();
  std::string summary(const CoordinatorLink::Outcome& stored) const;

  int last_epoch() const;
  bool stopped_early() const;

  const TrainRequest& request_;
  TrainConfig config_;
  const TrainLoopConfig& tc_;
  std::optional<ProcessGroup> own_group_;
  ProcessGroup& group_;
  const bool leader_;  // writes the run directory and reports
  const int world_;
  int threads_ = 1;
  torch::Device device_{torch::kCPU};
  bool on_cuda_ = false, amp_ = false, channels_last_ = false;
  // train.cpu_precision resolved: the fused kernels' convolutions in bf16, and why not
  // when auto chose f32 (for the start-up line).
  bool bf16_convolutions_ = false;
  std::string bf16_unavailable_;

  std::optional<ShardDataset> dataset_;
  int input_side_ = 0;
  std::optional<BatchLoader> train_loader_, val_loader_;
  FerNet model_{nullptr};
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  int accumulation_ = 1;
  std::size_t optimizer_steps_per_epoch_ = 0;
  double lr_scale_ = 1;
  std::optional<LrSchedule> schedule_;
  // Training to a time budget: its plan, not train.epochs, ends the run and the schedule.
  std::optional<TimeBudget> budget_;
  torch::Tensor class_weights_;
  std::unique_ptr<Communicator> communicator_;

  RunChoice choice_;
  std::filesystem::path run_path_;
  TrainingState state_;
  ProgressReporter progress_;
  std::optional<CoordinatorLink> coordinator_;
  std::unique_ptr<GradientBucketer> bucketer_;

  // The first plan of a budgeted run comes from the first few steps after the first
  // (which pays for allocations and primitive creation).
  std::size_t budget_probe_from_ = 0, budget_probe_steps_ = 0;
  std::chrono::steady_clock::time_point budget_probe_start_, epoch_start_;
  double forward_seconds_ = 0, backward_seconds_ = 0, optimizer_seconds_ = 0;
  double training_seconds_ = 0;
  std::int64_t timed_steps_ = 0, images_seen_ = 0;
  TrainResult result_;
};

}  // namespace fer
