#include <torch/torch.h>
#include <torch/version.h>

#include <iostream>
#include <tuple>

#include "common/blas_threads.hpp"
#include "common/error.hpp"
#include "common/parallel.hpp"
#include "common/sha256.hpp"
#include "data/image_stats.hpp"
#include "dist/agreement.hpp"
#include "dist/model_sync.hpp"
#include "dist/reduction_hook.hpp"
#include "kernels/bf16_support.hpp"
#include "model/compute_device.hpp"
#include "pipeline/augment.hpp"
#include "train/batch_limits.hpp"
#include "train/checkpoint_io.hpp"
#include "train/class_weights.hpp"
#include "train/torch_batch.hpp"
#include "train/training_job.hpp"

namespace fer {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A time-budgeted run plans from at least this many first steps (or 1/20 of an epoch).
constexpr std::size_t kBudgetProbeMinSteps = 5;

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimConfig& c, FerNet& model) {
  if (c.optimizer == OptimizerKind::kAdamw)
    return std::make_unique<torch::optim::AdamW>(
        model->parameters(),
        torch::optim::AdamWOptions(c.lr).betas({c.beta1, c.beta2}).weight_decay(c.weight_decay));
  return std::make_unique<torch::optim::SGD>(model->parameters(),
                                             torch::optim::SGDOptions(c.lr)
                                                 .momentum(c.momentum)
                                                 .nesterov(c.nesterov)
                                                 .weight_decay(c.weight_decay));
}

// The loaders' options, from the configuration and the rank's place in the job.
LoaderOptions train_loader_options(const TrainConfig& config, const ProcessGroup& group) {
  LoaderOptions options;
  options.batch_size = config.data.batch_size;
  options.threads = config.data.loader_threads;
  options.prefetch = config.data.prefetch_batches;
  options.seed = config.train.seed;
  options.limit = static_cast<std::size_t>(config.data.limit_train_images);
  options.augment = config.augment;
  options.rank = group.rank();
  options.world = group.size();
  options.timeout_seconds = config.dist.timeout_seconds;
  return options;
}

LoaderOptions val_loader_options(const TrainConfig& config, const ProcessGroup& group,
                                 std::size_t val_images) {
  LoaderOptions options = train_loader_options(config, group);
  options.training = false;
  options.batch_size = static_cast<int>(eval_batch_for(config, val_images, group.size()));
  options.limit = static_cast<std::size_t>(config.data.limit_val_images);
  return options;
}

BucketOptions bucket_options(const DistConfig& dist) {
  BucketOptions buckets;
  buckets.bucket_mb = dist.bucket_mb;
  buckets.first_bucket_mb = dist.first_bucket_mb;
  buckets.overlap = dist.overlap;
  return buckets;
}

// What every rank must agree on with rank 0 before the first step.
std::vector<AgreementItem> agreement_items(const TrainConfig& config, FerNet& model,
                                           const ShardDataset& dataset) {
  std::string shapes;
  for (const auto& item : model->named_parameters()) {
    shapes += item.key() + ": [";
    for (std::size_t d = 0; d < item.value().sizes().size(); ++d)
      shapes += (d ? ", " : "") + std::to_string(item.value().size(static_cast<std::int64_t>(d)));
    shapes += "]\n";
  }
  const Manifest& manifest = dataset.manifest();
  std::string data =
      "manifest.json sha256: " + sha256_file(dataset.directory() / "manifest.json") + "\n";
  for (Split split : {Split::kTrain, Split::kVal, Split::kTest})
    data += std::string(split_name(split)) +
            " images: " + std::to_string(manifest.split(split).images) + "\n";
  return {{"configuration", to_yaml(config)},
          {"model parameter shapes", shapes},
          {"data manifest", data}};
}

// train.cpu_precision as resolved, for the start-up line.
std::string convolution_arithmetic(CpuTrainPrecision asked, bool bf16, const std::string& why_not) {
  if (bf16)
    return asked == CpuTrainPrecision::kAuto
               ? "bf16 (train.cpu_precision=auto: this CPU has native bf16)"
               : "bf16 (train.cpu_precision=bf16)";
  if (asked == CpuTrainPrecision::kAuto) return "f32 (train.cpu_precision=auto: " + why_not + ")";
  return "f32 (train.cpu_precision=f32)";
}

}  // namespace

TrainingJob::TrainingJob(const TrainRequest& request)
    : request_(request),
      // Validated before anything else is built from it.
      config_((validate(request.config), request.config)),
      tc_(config_.train),
      group_(request.group ? *request.group : own_group_.emplace(nullptr, nullptr)),
      leader_(group_.rank() == 0),
      world_(group_.size()),
      progress_(request.progress && leader_, config_.train.log_every_steps) {
  group_.set_timeout(config_.dist.timeout_seconds);
  set_up_device();
  open_data();
  build_model();
  join_run();
  connect();
  announce();
}

void TrainingJob::set_up_device() {
  threads_ = threads_per_process(tc_.threads, group_.local_size());
  torch::set_num_threads(threads_);
  // OpenBLAS on one thread: its own pthreads busy-wait after every product (LSTM, linear)
  // and take the cores from LibTorch's OpenMP threads; at 2 threads that made the step
  // ~20% slower than leaving the small products on one thread.
  set_blas_threads(1);
  torch::manual_seed(tc_.seed);
  if (tc_.deterministic) at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/false);
  device_ = choose_device(tc_.device, group_.local_rank(), "train.device=cuda");
  on_cuda_ = device_.is_cuda();
  amp_ = on_cuda_ && tc_.amp;
  channels_last_ = on_cuda_ && tc_.channels_last;
}

void TrainingJob::open_data() {
  dataset_.emplace(config_.data.shards);
  SplitReader& train_split = dataset_->split(Split::kTrain);
  SplitReader& val_split = dataset_->split(Split::kVal);
  if (train_split.size() == 0) throw InputError(config_.data.shards + ": the train split is empty");
  if (val_split.size() == 0)
    throw InputError(config_.data.shards +
                     ": the val split is empty; the best checkpoint is chosen on val "
                     "(re-shard with --val-fraction, or use an input with PublicTest rows)");

  // Splits of different kinds (say, a blurred training set) make validation
  // misleading; say so before spending hours.
  if (const std::string warning = sharpness_warning(dataset_->manifest());
      leader_ && !warning.empty()) {
    if (config_.augment.eval_blur_sigma > 0)
      std::cout << "note: " << warning
                << " (augment.eval_blur_sigma = " << config_.augment.eval_blur_sigma
                << " is set)\n";
    else
      std::cout << "warning: " << warning << "\n";
  }

  input_side_ = model_input_size(config_.augment);
  all_or_nothing(group_, "checking the batch size", [&] {
    check_train_batch(config_, train_split.size(), world_, group_.local_size(), input_side_,
                      available_memory_bytes());
  });
  train_loader_.emplace(train_split, train_loader_options(config_, group_));
  val_loader_.emplace(val_split, val_loader_options(config_, group_, val_split.size()));
}

void TrainingJob::build_model() {
  model_ = FerNet(config_.model, input_side_);
  model_->to(device_);
  if (channels_last_)
    for (auto& p : model_->parameters())
      if (p.dim() == 4) p.set_data(p.data().contiguous(at::MemoryFormat::ChannelsLast));
  const bool fused =
      !on_cuda_ && tc_.cpu_kernels == CpuKernels::kFused && model_->fused_cpu_kernels_possible();
  if (fused && tc_.cpu_precision != CpuTrainPrecision::kF32) {
    bf16_unavailable_ = kernels::bf16_unavailable_reason();
    bf16_convolutions_ = bf16_unavailable_.empty();
    // bf16 asked for by name, where oneDNN would run it on reference kernels (several
    // times slower than f32): refused, on every rank at once.
    all_or_nothing(group_, "choosing the convolutions' arithmetic", [&] {
      if (tc_.cpu_precision == CpuTrainPrecision::kBf16 && !bf16_convolutions_)
        throw InputError("train.cpu_precision=bf16: " + bf16_unavailable_ +
                         "; use f32, or auto (bf16 where the CPU has it)");
    });
  }
  model_->use_fused_cpu_kernels(!on_cuda_ && tc_.cpu_kernels == CpuKernels::kFused,
                                bf16_convolutions_);
  optimizer_ = make_optimizer(config_.optim, model_);
  // One optimizer step per `accumulation_steps` loader batches; the schedule counts
  // optimizer steps. Linear scaling rule: the peak rate grows with the global batch.
  accumulation_ = config_.optim.accumulation_steps;
  const auto micro = static_cast<std::size_t>(accumulation_);
  optimizer_steps_per_epoch_ = (train_loader_->steps_per_epoch() + micro - 1) / micro;
  lr_scale_ = config_.dist.scale_lr ? static_cast<double>(world_) * accumulation_ : 1.0;
  schedule_.emplace(config_.schedule, config_.optim.lr * lr_scale_, tc_.epochs,
                    optimizer_steps_per_epoch_);
  if (tc_.time_budget_minutes > 0) budget_.emplace(tc_.time_budget_minutes * 60, tc_.epochs);
  budget_probe_from_ = std::min<std::size_t>(1, optimizer_steps_per_epoch_ - 1);
  budget_probe_steps_ =
      std::min(optimizer_steps_per_epoch_ - budget_probe_from_,
               std::max<std::size_t>(kBudgetProbeMinSteps, optimizer_steps_per_epoch_ / 20));
  if (config_.optim.class_weights) {
    const auto weights = class_loss_weights(dataset_->manifest().split(Split::kTrain).class_counts,
                                            config_.optim.class_weight_power);
    class_weights_ = torch::tensor(std::vector<float>(weights.begin(), weights.end())).to(device_);
  }

  // Every rank must run the same configuration, model and data as rank 0.
  check_agreement(group_, agreement_items(config_, model_, *dataset_));
  all_or_nothing(group_, "choosing the all-reduce backend",
                 [&] { communicator_ = make_communicator(config_.dist.backend, group_, device_); });
}

// Where the run lives and what it resumes from: decided by rank 0, shared with every
// rank; every rank loads the same checkpoint bytes.
void TrainingJob::join_run() {
  const fs::path checkpoints_dir = config_.checkpoint.dir;
  all_or_nothing(
      group_, "choosing the run directory",
      [&] { choice_ = choose_run(request_, checkpoints_dir); }, /*root_only=*/true);
  share_run_choice(choice_, group_);
  run_path_ = checkpoints_dir / choice_.run;
  if (!choice_.resume_from) return;
  TrainConfig saved;
  json meta;
  all_or_nothing(group_, "loading the checkpoint", [&] {
    meta = load_checkpoint(choice_.checkpoint_bytes, *choice_.resume_from, config_, model_,
                           *optimizer_, saved);
  });
  choice_.checkpoint_bytes = std::string();
  resume(saved, meta);
}

void TrainingJob::resume(const TrainConfig& saved, const json& meta) {
  state_ = training_state_from_json(meta);
  schedule_->restore(state_.plateau);
  if (budget_) {  // continue the budgeted schedule, do not start it again
    budget_->restore(state_.budget_used_seconds,
                     state_.budget_planned_epochs > 0 ? state_.budget_planned_epochs : tc_.epochs);
    schedule_->set_epochs(budget_->planned_epochs());
  }
  progress_.message("resumed " + choice_.resume_from->string() + " after epoch " +
                    std::to_string(state_.epochs_completed));
  if (state_.world_size != world_)
    progress_.message("note: that checkpoint was written by " + std::to_string(state_.world_size) +
                      " ranks, this job has " + std::to_string(world_) +
                      ": the global batch and the data order per rank change");
  const std::string changes = changed_settings(saved, config_);
  if (!changes.empty())
    progress_.message("note: settings changed since that checkpoint: " + changes);
}

void TrainingJob::connect() {
  // The coordinator keeps the run directory from here on: metrics.jsonl, checkpoints,
  // manifest.json, config.yaml. Resuming after epoch N, it drops what it holds of later
  // epochs (the run produces them again).
  coordinator_.emplace(config_, choice_.run, choice_.secret, state_.epochs_completed,
                       request_.drop_later_epochs, group_,
                       [this](const std::string& line) { progress_.message(line); });
  // The replicas start identical (and stay so: every step applies the same averaged
  // gradients); the bucketer averages gradients during backward.
  if (world_ > 1) {
    broadcast_model_state(*model_, *communicator_, 0);
    bucketer_ = std::make_unique<GradientBucketer>(model_->parameters(), *communicator_,
                                                   bucket_options(config_.dist),
                                                   make_reduction_hook(config_.dist.compression));
  }
}

// The start-up messages: what runs where, with which data, model and settings.
void TrainingJob::announce() {
  progress_.message("fer-train: run " + run_path_.string() + " on " + (on_cuda_ ? "cuda" : "cpu") +
                    ", " + std::to_string(world_) + (world_ == 1 ? " rank" : " ranks") + " x " +
                    std::to_string(threads_) + " threads" + (amp_ ? ", bf16 autocast" : "") +
                    ", LibTorch " + TORCH_VERSION);
  if (bucketer_) {
    std::string sizes;
    for (std::size_t bytes : bucketer_->bucket_bytes()) {
      char mb[32];
      std::snprintf(mb, sizeof mb, "%s%.2f", sizes.empty() ? "" : " + ", bytes / 1048576.0);
      sizes += mb;
    }
    progress_.message(
        "dist: " + communicator_->describe() + " all-reduce, " +
        std::to_string(bucketer_->bucket_count()) + " gradient buckets (" + sizes + " MB)" +
        (config_.dist.overlap ? ", overlapped with backward" : "") + "; global batch " +
        std::to_string(config_.data.batch_size * world_ * accumulation_) + "; deadline " +
        std::to_string(static_cast<int>(config_.dist.timeout_seconds)) + " s");
  }
  if (lr_scale_ != 1.0)
    progress_.message("learning rate scaled x" + std::to_string(static_cast<int>(lr_scale_)) +
                      " for the global batch (dist.scale_lr): peak " +
                      std::to_string(config_.optim.lr * lr_scale_));
  progress_.message("coordinator: " + coordinator_->describe());
  if (!on_cuda_)
    progress_.message(
        tc_.cpu_kernels == CpuKernels::kAten
            ? "CNN training kernels: LibTorch's layers (train.cpu_kernels=aten)"
        : model_->fused_cpu_kernels_possible()
            ? "CNN training kernels: fused (oneDNN convolutions on blocked activations, "
              "BatchNorm+ReLU, max-pool+dropout); convolutions in " +
                  convolution_arithmetic(tc_.cpu_precision, bf16_convolutions_, bf16_unavailable_)
            : "CNN training kernels: LibTorch's layers (fused kernels need channels that are "
              "multiples of 8 and a build with oneDNN)");
  progress_.message("model: " + std::to_string(parameter_count(*model_)) + " parameters; input " +
                    std::to_string(input_side_) + "x" + std::to_string(input_side_) +
                    "; RNN reads " + std::to_string(model_->sequence_length()) + " steps of " +
                    std::to_string(model_->step_features()) + " features");
  const std::size_t train_images = dataset_->split(Split::kTrain).size();
  const std::size_t val_split_images = dataset_->split(Split::kVal).size();
  const std::size_t val_images =
      config_.data.limit_val_images > 0
          ? std::min(val_split_images, static_cast<std::size_t>(config_.data.limit_val_images))
          : val_split_images;
  progress_.message("data: " + config_.data.shards + ": train " +
                    std::to_string(train_loader_->samples_per_epoch()) + " images per rank (" +
                    std::to_string(optimizer_steps_per_epoch_) + " steps of " +
                    std::to_string(config_.data.batch_size) +
                    (accumulation_ > 1 ? " x " + std::to_string(accumulation_) + " micro-batches"
                                       : std::string()) +
                    "), val " + std::to_string(val_images) + " images");
  // A limit above the split's size silently meaning "all" would mislead a benchmark.
  for (const auto& [key, limit, size] :
       {std::tuple<const char*, std::int64_t, std::size_t>{
            "data.limit_train_images", config_.data.limit_train_images, train_images},
        {"data.limit_val_images", config_.data.limit_val_images, val_split_images}})
    if (limit > 0 && static_cast<std::size_t>(limit) > size)
      progress_.message(std::string("note: ") + key + " = " + std::to_string(limit) +
                        " exceeds the split's " + std::to_string(size) + " images: all are used");
  progress_.message("effective configuration:\n" + to_yaml(config_));
  if (budget_)
    progress_.message("time budget: " + format_duration(budget_->budget_seconds()) +
                      " of training and validation" +
                      (budget_->used_seconds() > 0
                           ? ", " + format_duration(budget_->used_seconds()) + " used"
                           : std::string()) +
                      "; epochs (at most " + std::to_string(tc_.epochs) + ") fitted to it");
}

}  // namespace fer
