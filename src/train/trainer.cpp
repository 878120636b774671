#include "train/trainer.hpp"

#include <torch/torch.h>
#include <torch/version.h>

#include <chrono>
#include <cstdio>
#include <sstream>

#include "common/error.hpp"
#include "common/failpoint.hpp"
#include "common/interrupt.hpp"
#include "dist/evaluation_sum.hpp"
#include "dist/model_sync.hpp"
#include "model/checkpoint_archive.hpp"
#include "runs/run_lookup.hpp"
#include "train/checkpoint_io.hpp"
#include "train/torch_batch.hpp"
#include "train/training_job.hpp"

namespace fer {
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void set_lr(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

}  // namespace

// The schedule's epochs: train.epochs, or the time budget's plan as it is corrected.
int TrainingJob::last_epoch() const {
  return request_.stop_after_epoch > 0 ? std::min(request_.stop_after_epoch, schedule_->epochs())
                                       : schedule_->epochs();
}

bool TrainingJob::stopped_early() const {
  return tc_.early_stopping_patience > 0 &&
         state_.epochs_without_gain >= tc_.early_stopping_patience;
}

TrainResult TrainingJob::run() {
  result_.run_dir = run_path_;
  if (stopped_early())
    progress_.message("this run stopped early after epoch " +
                      std::to_string(state_.epochs_completed) + "; nothing left to train");
  for (int epoch = state_.epochs_completed; epoch < last_epoch() && !stopped_early(); ++epoch)
    if (!run_epoch(epoch)) break;
  return finish();
}

bool TrainingJob::run_epoch(int epoch) {
  epoch_start_ = Clock::now();
  const EpochFigures train = train_epoch(epoch);

  // Every rank updated its BatchNorm statistics from its own batches.
  if (world_ > 1) average_buffers(*model_, *communicator_);
  failpoint("validation", group_.rank(), epoch + 1);
  const EvaluationCounts local_val = evaluate(model_, *val_loader_, device_, amp_, channels_last_);
  EvaluationCounts val = local_val;  // local_val: this rank's counts, for the coordinator
  sum_over_ranks(val, group_, "validation of epoch " + std::to_string(epoch + 1));
  const bool is_best = record_validation(epoch, val.matrix.accuracy());
  if (budget_) correct_budget(epoch);
  const json record = epoch_record(epoch, train, val);
  state_.history.push_back(record);

  const bool stop_early = stopped_early();
  const bool last = epoch + 1 >= last_epoch() || stop_early;
  // Every rank reports its own counts; the coordinator sums them into the metrics
  // line (exactly what the all-reduce above computed) with rank 0's training figures.
  // The line goes first: a kill before the checkpoint is stored is repaired on resume
  // (the coordinator drops lines after the resumed epoch).
  json extra = json::object();
  if (leader_)
    for (const char* key :
         {"step", "lr", "train_loss", "train_accuracy", "images_per_second", "seconds"})
      extra[key] = record[key];
  coordinator_->report_eval("val", epoch + 1, local_val.matrix.counts(), kNumEmotions,
                            local_val.loss_sum, local_val.images, extra);
  coordinator_->progress(epoch + 1, state_.global_step);
  if (leader_ && ((epoch + 1) % config_.checkpoint.every_epochs == 0 || last || is_best))
    store_checkpoint(epoch, val);
  print_epoch(epoch, record, val);
  stop_if_checkpoints_lost(epoch);
  result_.last_val_accuracy = val.matrix.accuracy();
  if (stop_early) {
    progress_.message("early stopping: no val-accuracy gain for " +
                      std::to_string(state_.epochs_without_gain) + " epochs");
    return false;
  }
  return true;
}

TrainingJob::EpochFigures TrainingJob::train_epoch(int epoch) {
  model_->train();
  train_loader_->start_epoch(static_cast<std::uint64_t>(epoch));
  progress_.begin_epoch(epoch + 1, schedule_->epochs(), optimizer_steps_per_epoch_);
  EpochFigures figures;
  while (true) {
    // Ctrl-C or SIGTERM: stop between steps; the coordinator marks the run aborted
    // and --resume auto continues it from its last checkpoint.
    if (interrupt_signal())
      throw_if_interrupted("epoch " + std::to_string(epoch + 1) + ", step " +
                           std::to_string(state_.global_step));
    auto batch = train_loader_->next();
    if (!batch) break;
    if (batch->step == 2) failpoint("step", group_.rank(), epoch + 1);  // mid-epoch
    train_step(*batch, epoch, figures);
  }
  figures.seconds = seconds_since(epoch_start_);
  // The epoch's training figures over all ranks.
  double totals[3] = {figures.loss_sum, static_cast<double>(figures.correct),
                      static_cast<double>(figures.seen)};
  group_.all_reduce_sum(totals, 3, "training totals of epoch " + std::to_string(epoch + 1));
  figures.loss_sum = totals[0];
  figures.correct = static_cast<std::int64_t>(totals[1]);
  figures.seen = static_cast<std::int64_t>(totals[2]);
  training_seconds_ += figures.seconds;
  images_seen_ += figures.seen;
  return figures;
}

// One loader batch: a micro-batch of optimizer step batch.step / accumulation.
void TrainingJob::train_step(const Batch& batch, int epoch, EpochFigures& figures) {
  // The last step of an epoch may have fewer micro-batches; the loss is averaged over
  // those it has.
  const auto micro = static_cast<std::size_t>(accumulation_);
  const std::size_t step = batch.step / micro;
  const std::size_t k = batch.step % micro;
  const std::size_t micro_batches =
      std::min(micro, train_loader_->steps_per_epoch() - step * micro);
  const bool last_micro_batch = k + 1 == micro_batches;
  if (k == 0) {
    figures.lr = schedule_->lr_at(epoch, step);
    set_lr(*optimizer_, figures.lr);
    optimizer_->zero_grad();
  }
  const auto forward_start = Clock::now();
  torch::Tensor labels = batch_labels(batch, device_);
  torch::Tensor logits, loss;
  {
    AutocastScope autocast(amp_);
    logits = model_->forward(batch_images(batch, device_, channels_last_));
    auto options = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(
        config_.optim.label_smoothing);
    if (class_weights_.defined()) options.weight(class_weights_);
    loss = torch::nn::functional::cross_entropy(logits.to(torch::kFloat32), labels, options);
  }
  forward_seconds_ += seconds_since(forward_start);
  const auto backward_start = Clock::now();
  if (bucketer_ && last_micro_batch) bucketer_->prepare_for_reduction(state_.global_step + 1);
  (micro_batches > 1 ? loss / static_cast<double>(micro_batches) : loss).backward();
  backward_seconds_ += seconds_since(backward_start);
  const auto optimizer_start = Clock::now();
  if (last_micro_batch) {
    if (bucketer_) bucketer_->finish_reduction();
    if (config_.optim.grad_clip_norm > 0)
      torch::nn::utils::clip_grad_norm_(model_->parameters(), config_.optim.grad_clip_norm);
    optimizer_->step();
    ++state_.global_step;
    ++timed_steps_;
    if (budget_ && !choice_.resume_from && epoch == 0) plan_budget_from_first_steps(step);
    coordinator_->progress(epoch + 1, state_.global_step);  // for the status page; no wait
  }
  optimizer_seconds_ += seconds_since(optimizer_start);
  figures.loss_sum += loss.item<double>() * batch.size;
  figures.correct += logits.argmax(1).eq(labels).sum().item<std::int64_t>();
  figures.seen += batch.size;
  if (last_micro_batch)
    progress_.update(step, figures.loss_sum / static_cast<double>(figures.seen),
                     static_cast<double>(figures.correct) / static_cast<double>(figures.seen),
                     static_cast<double>(figures.seen * world_) / seconds_since(epoch_start_),
                     figures.lr);
}

// After optimizer step `step` of a new run's first epoch: times the probe steps and,
// after the last of them, makes the budget's first plan.
void TrainingJob::plan_budget_from_first_steps(std::size_t step) {
  if (step + 1 == budget_probe_from_) budget_probe_start_ = Clock::now();
  if (step + 1 != budget_probe_from_ + budget_probe_steps_) return;
  // Every rank is at this step (same step count by construction): one plan.
  double probe_seconds =
      budget_probe_from_ > 0 ? seconds_since(budget_probe_start_) : seconds_since(epoch_start_);
  group_.all_reduce_sum(&probe_seconds, 1, "time budget: first steps");
  probe_seconds /= world_;
  // Validation costs about a forward pass (a third of a step) per image.
  const double eval_fraction = static_cast<double>(val_loader_->samples_per_epoch()) /
                               static_cast<double>(train_loader_->samples_per_epoch()) / 3.0;
  schedule_->set_epochs(budget_->plan_from_first_steps(probe_seconds, budget_probe_steps_,
                                                       optimizer_steps_per_epoch_, eval_fraction));
  progress_.message("time budget: " + std::to_string(budget_probe_steps_) + " steps in " +
                    format_duration(probe_seconds) + " -> " + std::to_string(schedule_->epochs()) +
                    " epochs planned");
}

bool TrainingJob::record_validation(int epoch, double val_accuracy) {
  schedule_->end_of_epoch(val_accuracy);
  state_.plateau = schedule_->plateau();
  const bool is_best = val_accuracy > state_.best_val_accuracy;
  if (is_best) {
    state_.best_val_accuracy = val_accuracy;
    state_.best_epoch = epoch + 1;
    state_.epochs_without_gain = 0;
  } else {
    ++state_.epochs_without_gain;
  }
  state_.epochs_completed = epoch + 1;
  return is_best;
}

// The budget's plan, corrected from the epoch's measured time (the ranks' mean, so
// every rank makes the same plan).
void TrainingJob::correct_budget(int epoch) {
  double epoch_seconds = seconds_since(epoch_start_);
  group_.all_reduce_sum(&epoch_seconds, 1, "time budget: epoch " + std::to_string(epoch + 1));
  const int before = schedule_->epochs();
  schedule_->set_epochs(budget_->end_of_epoch(epoch + 1, epoch_seconds / world_));
  state_.budget_used_seconds = budget_->used_seconds();
  state_.budget_planned_epochs = budget_->planned_epochs();
  if (schedule_->epochs() != before)
    progress_.message("time budget: " + format_duration(budget_->used_seconds()) + " used, " +
                      format_duration(budget_->seconds_per_epoch()) + " per epoch -> " +
                      std::to_string(schedule_->epochs()) + " epochs planned (was " +
                      std::to_string(before) + ")");
}

json TrainingJob::epoch_record(int epoch, const EpochFigures& train,
                               const EvaluationCounts& val) const {
  const auto seen = static_cast<double>(std::max<std::int64_t>(1, train.seen));
  json record = {{"epoch", epoch + 1},
                 {"step", state_.global_step},
                 {"lr", train.lr},
                 {"train_loss", train.loss_sum / seen},
                 {"train_accuracy", static_cast<double>(train.correct) / seen},
                 {"val_loss", val.mean_loss()},
                 {"val_accuracy", val.matrix.accuracy()},
                 {"val_macro_f1", val.matrix.macro_f1()},
                 {"val_images", val.images},
                 {"val_confusion_matrix", val.matrix.counts()},
                 {"images_per_second", static_cast<double>(train.seen) / train.seconds},
                 {"seconds", seconds_since(epoch_start_)}};
  json recalls = json::array();
  for (int c = 0; c < kNumEmotions; ++c) recalls.push_back(val.matrix.class_metrics(c).recall);
  record["val_recall"] = recalls;
  return record;
}

void TrainingJob::store_checkpoint(int epoch, const EvaluationCounts& val) {
  state_.world_size = world_;
  if (!budget_) state_.budget_planned_epochs = 0;  // budget keys only in budgeted runs
  json meta = to_json(state_);
  meta["format_version"] = kCheckpointFormatVersion;
  meta["config"] = to_yaml(config_);
  meta["libtorch"] = TORCH_VERSION;
  coordinator_->upload_checkpoint(epoch + 1, state_.global_step,
                                  serialize_checkpoint(model_, *optimizer_, meta),
                                  {{"val_accuracy", val.matrix.accuracy()},
                                   {"val_loss", val.mean_loss()},
                                   {"val_macro_f1", val.matrix.macro_f1()}});
  failpoint("upload", group_.rank(), epoch + 1);
}

void TrainingJob::print_epoch(int epoch, const json& record, const EvaluationCounts& val) {
  char line[512];
  std::snprintf(
      line, sizeof line,
      "epoch %d/%d  train loss %.4f acc %5.1f%%  |  val loss %.4f acc %5.1f%% (best "
      "%.1f%% @%d)  |  "
      "%.0f img/s  %s\n    val recall: %s",
      epoch + 1, schedule_->epochs(), record["train_loss"].get<double>(),
      100 * record["train_accuracy"].get<double>(), val.mean_loss(), 100 * val.matrix.accuracy(),
      100 * state_.best_val_accuracy, state_.best_epoch, record["images_per_second"].get<double>(),
      format_duration(seconds_since(epoch_start_)).c_str(), recall_line(val.matrix).c_str());
  progress_.end_epoch(line);
  for (const std::string& problem : coordinator_->problems())
    progress_.message("coordinator: " + problem);
}

// checkpoint.on_store_failure=stop: a checkpoint the coordinator could not store ends
// the run after this epoch (collective).
void TrainingJob::stop_if_checkpoints_lost(int epoch) {
  if (config_.checkpoint.on_store_failure != StoreFailurePolicy::kStop) return;
  const std::vector<int> lost = coordinator_->lost_checkpoints();
  if (!lost.empty())
    throw JobWideError("the checkpoint of epoch " + std::to_string(lost.front()) +
                           " was not stored (the coordinator's reason is above); the run "
                           "stops after epoch " +
                           std::to_string(epoch + 1) +
                           " (checkpoint.on_store_failure=continue trains on)",
                       kExitFailure, leader_);
}

TrainResult TrainingJob::finish() {
  // Everything is acknowledged (metrics.jsonl and the checkpoints are on disk) before
  // the summary says where they are.
  const CoordinatorLink::Outcome stored = coordinator_->finish();
  result_.epochs_completed = state_.epochs_completed;
  result_.best_val_accuracy = state_.best_val_accuracy;
  result_.best_epoch = state_.best_epoch;
  result_.images_per_second =
      training_seconds_ > 0 ? static_cast<double>(images_seen_) / training_seconds_ : 0;
  const double allreduce_seconds = bucketer_ ? bucketer_->exposed_seconds() : 0.0;
  result_.allreduce_wait_per_step =
      timed_steps_ > 0 ? allreduce_seconds / static_cast<double>(timed_steps_) : 0;
  progress_.message(summary(stored));
  if (!stored.complete) {
    std::string epochs;
    for (int e : stored.lost_epochs) epochs += (epochs.empty() ? "" : ", ") + std::to_string(e);
    throw JobWideError(
        (epochs.empty()
             ? std::string("metrics or checkpoints never reached the coordinator")
             : "checkpoints of epoch(s) " + epochs + " were not stored by the coordinator") +
            (stored.unsent_dir.empty() ? std::string()
                                       : "; those never sent are kept in " + stored.unsent_dir) +
            " (see the warnings above)",
        kExitFailure, leader_);
  }
  if (stored.best.is_object()) result_.best_epoch = stored.best.value("epoch", result_.best_epoch);
  return result_;
}

// The table of epochs, the time per step and what the run store really holds, by the
// metric that ranks it (checkpoint.best_metric).
std::string TrainingJob::summary(const CoordinatorLink::Outcome& stored) const {
  std::ostringstream text;
  text << "\nsummary of " << run_path_.string()
       << "\n  epoch  train_loss  train_acc  val_loss  val_acc  "
       << "macro_f1     img/s\n";
  char row[160];
  for (const json& r : state_.history) {
    std::snprintf(row, sizeof row, "  %5d  %10.4f  %8.1f%%  %8.4f  %6.1f%%  %8.3f  %8.0f\n",
                  r["epoch"].get<int>(), r["train_loss"].get<double>(),
                  100 * r["train_accuracy"].get<double>(), r["val_loss"].get<double>(),
                  100 * r["val_accuracy"].get<double>(), r["val_macro_f1"].get<double>(),
                  r["images_per_second"].get<double>());
    text << row;
  }
  if (timed_steps_ > 0) {
    const double allreduce_seconds = bucketer_ ? bucketer_->exposed_seconds() : 0.0;
    const auto steps = static_cast<double>(timed_steps_);
    std::snprintf(row, sizeof row,
                  "  time per step (ms, rank 0): data wait %.2f, forward %.2f, backward %.2f, "
                  "all-reduce wait %.2f, optimizer %.2f; %.0f img/s (all ranks)\n",
                  1e3 * train_loader_->wait_seconds() / steps, 1e3 * forward_seconds_ / steps,
                  1e3 * backward_seconds_ / steps, 1e3 * result_.allreduce_wait_per_step,
                  1e3 * (optimizer_seconds_ - allreduce_seconds) / steps,
                  result_.images_per_second);
    text << row;
  }
  if (stored.best.is_object()) {
    const json& metrics = stored.best.value("metrics", json::object());
    std::snprintf(
        row, sizeof row, "  best checkpoint by %s: epoch %d (val accuracy %.2f%%) -> %s\n",
        std::string(name_of(config_.checkpoint.best_metric)).c_str(), stored.best.value("epoch", 0),
        100 * metrics.value("val_accuracy", 0.0), (run_path_ / runs::kBestPointer).c_str());
    text << row;
  } else if (leader_) {
    text << (stored.complete ? "  no checkpoint of this run is stored\n"
                             : "  best checkpoint: not known (the coordinator did not confirm "
                               "every checkpoint; see below)\n");
  }
  return text.str();
}

TrainResult train(const TrainRequest& request) {
  return TrainingJob(request).run();
}

}  // namespace fer
