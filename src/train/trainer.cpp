#include "train/trainer.hpp"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <tuple>

#include "common/blas_threads.hpp"
#include "common/error.hpp"
#include "common/failpoint.hpp"
#include "common/interrupt.hpp"
#include "common/parallel.hpp"
#include "common/sha256.hpp"
#include "data/image_stats.hpp"
#include "data/shard_reader.hpp"
#include "dist/agreement.hpp"
#include "dist/communicator.hpp"
#include "dist/gradient_bucketer.hpp"
#include "dist/model_sync.hpp"
#include "metrics/confusion_matrix.hpp"
#include "model/checkpoint_archive.hpp"
#include "model/fer_net.hpp"
#include "pipeline/augment.hpp"
#include "pipeline/batch_loader.hpp"
#include "runs/run_control.hpp"
#include "runs/run_lookup.hpp"
#include "train/batch_limits.hpp"
#include "train/coordinator_link.hpp"
#include "train/lr_schedule.hpp"
#include "train/progress.hpp"
#include "train/time_budget.hpp"

namespace fer {
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kEmotionShort[kNumEmotions] = {"An", "Di", "Fe", "Ha", "Sa", "Su", "Ne"};
// A time-budgeted run plans from at least this many first steps (or 1/20 of an epoch).
constexpr std::size_t kBudgetProbeMinSteps = 5;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// One GPU per rank on a node: the local rank picks it.
torch::Device choose_device(const std::string& wanted, int local_rank) {
  const bool cuda = torch::cuda::is_available();
  if (wanted == "cuda" && !cuda)
    throw InputError(
        "train.device=cuda, but this LibTorch has no usable CUDA device (use auto or cpu)");
  if (wanted == "cuda" || (wanted == "auto" && cuda))
    return torch::Device(
        torch::kCUDA,
        static_cast<c10::DeviceIndex>(local_rank % static_cast<int>(torch::cuda::device_count())));
  return torch::Device(torch::kCPU);
}

// bf16 autocast on CUDA; the C++ autocast API changed in LibTorch 2.4.
class AutocastScope {
 public:
  explicit AutocastScope(bool enabled) : enabled_(enabled) {
    if (!enabled_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCUDA, true);
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
#else
    at::autocast::set_enabled(true);
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
#endif
  }
  ~AutocastScope() {
    if (!enabled_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
    at::autocast::set_enabled(false);
#endif
    at::autocast::clear_cache();
  }

 private:
  bool enabled_;
};

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimConfig& c, FerNet& model) {
  if (c.optimizer == "adamw")
    return std::make_unique<torch::optim::AdamW>(
        model->parameters(),
        torch::optim::AdamWOptions(c.lr).betas({c.beta1, c.beta2}).weight_decay(c.weight_decay));
  return std::make_unique<torch::optim::SGD>(model->parameters(),
                                             torch::optim::SGDOptions(c.lr)
                                                 .momentum(c.momentum)
                                                 .nesterov(c.nesterov)
                                                 .weight_decay(c.weight_decay));
}

void set_lr(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

// Inverse class frequency, normalised so that the weights average 1 over samples.
torch::Tensor class_weights_from(const ClassCounts& counts) {
  double total = 0;
  for (auto c : counts) total += static_cast<double>(c);
  std::vector<float> weights(kNumEmotions, 0.0f);
  for (int c = 0; c < kNumEmotions; ++c)
    if (counts[c] > 0)
      weights[c] = static_cast<float>(total / (kNumEmotions * static_cast<double>(counts[c])));
  return torch::tensor(weights);
}

torch::Tensor batch_images(const Batch& batch, const torch::Device& device, bool channels_last) {
  torch::Tensor images = torch::from_blob(
      const_cast<float*>(batch.images),
      {static_cast<long>(batch.size) * batch.views, 1, batch.side, batch.side}, torch::kFloat32);
  if (device.is_cpu()) return images;
  images = images.to(device);
  return channels_last ? images.contiguous(at::MemoryFormat::ChannelsLast) : images;
}

torch::Tensor batch_labels(const Batch& batch, const torch::Device& device) {
  torch::Tensor labels = torch::from_blob(const_cast<std::int64_t*>(batch.labels),
                                          {static_cast<long>(batch.size)}, torch::kInt64);
  return device.is_cpu() ? labels : labels.to(device);
}

struct Evaluation {
  ConfusionMatrix matrix{kNumEmotions};
  double loss_sum = 0;
  std::int64_t samples = 0;
  double loss() const { return samples ? loss_sum / static_cast<double>(samples) : 0.0; }
};

Evaluation evaluate(FerNet& model, BatchLoader& loader, const torch::Device& device, bool amp,
                    bool channels_last) {
  Evaluation result;
  model->eval();
  torch::NoGradGuard no_grad;
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    AutocastScope autocast(amp);
    torch::Tensor logits =
        model->forward(batch_images(*batch, device, channels_last)).to(torch::kFloat32);
    // Test-time augmentation: average the logits of each image's views.
    logits = logits.view({batch->size, batch->views, kNumEmotions}).mean(1);
    torch::Tensor labels = batch_labels(*batch, device);
    result.loss_sum +=
        torch::nn::functional::cross_entropy(
            logits, labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
            .item<double>();
    torch::Tensor predicted = logits.argmax(1).to(torch::kCPU);
    const auto* p = predicted.data_ptr<std::int64_t>();
    for (int k = 0; k < batch->size; ++k)
      result.matrix.add(static_cast<int>(batch->labels[k]), static_cast<int>(p[k]));
    result.samples += batch->size;
  }
  return result;
}

// Only the model-shaping keys must agree between a checkpoint and the run resuming it.
// (The optimizer kind too: its saved state only fits the same kind.)
std::string architecture_of(const TrainConfig& config) {
  TrainConfig shape;
  shape.model = config.model;
  shape.augment.crop_size = config.augment.crop_size;
  shape.optim.optimizer = config.optim.optimizer;
  return to_yaml(shape);
}

// Optimizer::load() restores the saved hyper-parameters too; the configuration of
// the resuming run wins (the learning rate is set every step anyway).
void apply_optimizer_settings(torch::optim::Optimizer& optimizer, const OptimConfig& c) {
  for (auto& group : optimizer.param_groups()) {
    if (auto* sgd = dynamic_cast<torch::optim::SGDOptions*>(&group.options())) {
      sgd->momentum(c.momentum).nesterov(c.nesterov).weight_decay(c.weight_decay);
    } else if (auto* adamw = dynamic_cast<torch::optim::AdamWOptions*>(&group.options())) {
      adamw->betas({c.beta1, c.beta2}).weight_decay(c.weight_decay);
    }
  }
}

// "section.key: old -> new" for every key whose line differs between two to_yaml()
// texts (same schema, same order), joined by `separator`.
std::string changed_settings(const std::string& before, const std::string& after,
                             const std::string& separator = ", ") {
  std::istringstream a(before), b(after);
  std::string line_a, line_b, section, changes;
  while (std::getline(a, line_a) && std::getline(b, line_b)) {
    if (!line_a.empty() && line_a[0] != ' ') section = line_a.substr(0, line_a.find(':'));
    if (line_a == line_b) continue;
    const auto colon = line_a.find(':');
    changes += (changes.empty() ? "" : separator) + section + "." + line_a.substr(2, colon - 2) +
               ":" + line_a.substr(colon + 1) + " ->" + line_b.substr(line_b.find(':') + 1);
  }
  return changes;
}

std::string timestamp_now() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%d-%H%M%S", std::localtime(&now));
  return text;
}

struct TrainingState {
  int epochs_completed = 0;
  std::int64_t global_step = 0;
  double best_val_accuracy = -1;
  int best_epoch = 0;
  int epochs_without_gain = 0;
  json history = json::array();
};

std::string serialize_checkpoint(FerNet& model, torch::optim::Optimizer& optimizer,
                                 const json& meta) {
  torch::serialize::OutputArchive archive;
  torch::serialize::OutputArchive model_archive, optimizer_archive;
  model->save(model_archive);
  optimizer.save(optimizer_archive);
  archive.write("model", model_archive);
  archive.write("optimizer", optimizer_archive);
  archive.write("meta", c10::IValue(meta.dump()));
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  {
    std::lock_guard<std::mutex> lock(generator.mutex());
    archive.write("rng_cpu", generator.get_state());
  }
  std::ostringstream bytes;
  archive.save_to(bytes);
  return bytes.str();
}

// Loads a checkpoint (its bytes; `path` names it in messages) into `model` and
// `optimizer` only after every check passed:
// readable archive, format version, same architecture, every tensor present with the
// right shape (loaded into a scratch model first). Returns its metadata; `saved`
// receives the configuration stored in it.
json load_checkpoint(const std::string& bytes, const fs::path& path, const TrainConfig& config,
                     FerNet& model, torch::optim::Optimizer& optimizer, TrainConfig& saved) {
  CheckpointArchive checkpoint = open_checkpoint(bytes, path, config);
  saved = checkpoint.config;
  if (architecture_of(saved) != architecture_of(config))
    throw InputError(path.string() +
                     ": the checkpoint's model or optimizer differs from this configuration "
                     "(checkpoint -> this run):\n  " +
                     changed_settings(architecture_of(saved), architecture_of(config), "\n  "));
  // Into a scratch model first: a checkpoint that does not fit is never half-loaded.
  FerNet scratch = load_model(checkpoint, path);
  torch::serialize::InputArchive& archive = checkpoint.archive;
  try {
    torch::serialize::InputArchive optimizer_archive;
    archive.read("optimizer", optimizer_archive);
    torch::Tensor rng;
    archive.read("rng_cpu", rng);
    optimizer.load(optimizer_archive);  // before any weight is touched
    apply_optimizer_settings(optimizer, config.optim);
    torch::NoGradGuard no_grad;
    auto target = model->named_parameters();
    for (const auto& item : scratch->named_parameters()) target[item.key()].copy_(item.value());
    auto target_buffers = model->named_buffers();
    for (const auto& item : scratch->named_buffers())
      target_buffers[item.key()].copy_(item.value());
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(rng);
  } catch (const c10::Error& e) {
    std::string what = e.what();
    throw CorruptDataError(
        path.string() + ": checkpoint does not fit the model: " + what.substr(0, what.find('\n')));
  }
  return checkpoint.meta;
}

std::string recall_line(const ConfusionMatrix& matrix) {
  std::string line;
  char part[32];
  for (int c = 0; c < kNumEmotions; ++c) {
    std::snprintf(part, sizeof part, "%s%s %.2f", c ? " " : "", kEmotionShort[c],
                  matrix.class_metrics(c).recall);
    line += part;
  }
  return line;
}

// Sums every rank's evaluation counts: the job's confusion matrix counts each
// val image exactly once (the loader splits the split across ranks).
void reduce_evaluation(Evaluation& evaluation, ProcessGroup& group, const std::string& what) {
  std::vector<std::int64_t>& counts = evaluation.matrix.counts();
  counts.push_back(evaluation.samples);
  group.all_reduce_sum(counts.data(), counts.size(), what + " (counts)");
  evaluation.samples = counts.back();
  counts.pop_back();
  group.all_reduce_sum(&evaluation.loss_sum, 1, what + " (loss)");
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

}  // namespace

TrainResult train(const TrainRequest& request) {
  TrainConfig config = request.config;
  validate(config);
  std::optional<ProcessGroup> own_group;
  ProcessGroup& group = request.group ? *request.group : own_group.emplace(nullptr, nullptr);
  group.set_timeout(config.dist.timeout_seconds);
  const bool leader = group.rank() == 0;  // writes the run directory and reports
  const int world = group.size();
  const auto& tc = config.train;
  const int threads = threads_per_process(tc.threads, group.local_size());
  torch::set_num_threads(threads);
  // OpenBLAS on one thread: its own pthreads busy-wait after every product (LSTM, linear)
  // and take the cores from LibTorch's OpenMP threads; at 2 threads that made the step
  // ~20% slower than leaving the small products on one thread.
  set_blas_threads(1);
  torch::manual_seed(tc.seed);
  if (tc.deterministic) at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/false);
  const torch::Device device = choose_device(tc.device, group.local_rank());
  const bool on_cuda = device.is_cuda();
  const bool amp = on_cuda && tc.amp;
  const bool channels_last = on_cuda && tc.channels_last;

  ShardDataset dataset(config.data.shards);
  SplitReader& train_split = dataset.split(Split::kTrain);
  SplitReader& val_split = dataset.split(Split::kVal);
  if (train_split.size() == 0) throw InputError(config.data.shards + ": the train split is empty");
  if (val_split.size() == 0)
    throw InputError(config.data.shards +
                     ": the val split is empty; the best checkpoint is chosen on val "
                     "(re-shard with --val-fraction, or use an input with PublicTest rows)");

  // Splits of different kinds (say, a blurred training set) make validation
  // misleading; say so before spending hours.
  if (const std::string warning = sharpness_warning(dataset.manifest());
      leader && !warning.empty()) {
    if (config.augment.eval_blur_sigma > 0)
      std::cout << "note: " << warning
                << " (augment.eval_blur_sigma = " << config.augment.eval_blur_sigma << " is set)\n";
    else
      std::cout << "warning: " << warning << "\n";
  }

  const int input_side = model_input_size(config.augment);
  all_or_nothing(group, "checking the batch size", [&] {
    check_train_batch(config, train_split.size(), world, group.local_size(), input_side,
                      available_memory_bytes());
  });
  LoaderOptions train_options;
  train_options.batch_size = config.data.batch_size;
  train_options.threads = config.data.loader_threads;
  train_options.prefetch = config.data.prefetch_batches;
  train_options.seed = tc.seed;
  train_options.limit = static_cast<std::size_t>(config.data.limit_train_images);
  train_options.augment = config.augment;
  train_options.rank = group.rank();
  train_options.world = world;
  train_options.timeout_seconds = config.dist.timeout_seconds;
  LoaderOptions val_options = train_options;
  val_options.training = false;
  val_options.batch_size = static_cast<int>(eval_batch_for(config, val_split.size(), world));
  val_options.limit = static_cast<std::size_t>(config.data.limit_val_images);
  BatchLoader train_loader(train_split, train_options);
  BatchLoader val_loader(val_split, val_options);

  FerNet model(config.model, input_side);
  model->to(device);
  if (channels_last)
    for (auto& p : model->parameters())
      if (p.dim() == 4) p.set_data(p.data().contiguous(at::MemoryFormat::ChannelsLast));
  model->use_fused_cpu_kernels(!on_cuda && tc.cpu_kernels == "fused");
  auto optimizer = make_optimizer(config.optim, model);
  // One optimizer step per `accumulation_steps` loader batches; the schedule counts
  // optimizer steps. Linear scaling rule: the peak rate grows with the global batch.
  const int accumulation = config.optim.accumulation_steps;
  const std::size_t optimizer_steps_per_epoch =
      (train_loader.steps_per_epoch() + static_cast<std::size_t>(accumulation) - 1) /
      static_cast<std::size_t>(accumulation);
  const double lr_scale = config.dist.scale_lr ? static_cast<double>(world) * accumulation : 1.0;
  LrSchedule schedule(config.schedule, config.optim.lr * lr_scale, tc.epochs,
                      optimizer_steps_per_epoch);
  // Training to a time budget: its plan, not train.epochs, ends the run and the schedule.
  std::optional<TimeBudget> budget;
  if (tc.time_budget_minutes > 0) budget.emplace(tc.time_budget_minutes * 60, tc.epochs);
  torch::Tensor class_weights;
  if (config.optim.class_weights)
    class_weights =
        class_weights_from(dataset.manifest().split(Split::kTrain).class_counts).to(device);

  // Every rank must run the same configuration, model and data as rank 0.
  check_agreement(group, agreement_items(config, model, dataset));
  std::unique_ptr<Communicator> communicator;
  all_or_nothing(group, "choosing the all-reduce backend",
                 [&] { communicator = make_communicator(config.dist.backend, group, device); });

  // Where the run lives, and what it resumes from: decided by rank 0 (its clock
  // names new runs), shared with every rank.
  const fs::path checkpoints_dir = config.checkpoint.dir;
  std::optional<fs::path> resume_from;
  std::optional<fs::path> source_dir;
  std::string run = request.run;
  std::string checkpoint_bytes;
  std::string run_secret;
  all_or_nothing(
      group, "choosing the run directory",
      [&] {
        if (request.resume == "auto") {
          // Nothing to resume is an error, never a silent new run: the coordinator
          // would otherwise be asked to start over a run it may hold.
          if (!run.empty()) {
            if (!fs::exists(checkpoints_dir / run / runs::kLatestPointer))
              throw InputError("--resume auto --run " + run + ": " +
                               (checkpoints_dir / run).string() + " has no " +
                               runs::kLatestPointer + " (checkpoint.dir is " +
                               checkpoints_dir.string() +
                               "; with an external coordinator it must be the coordinator's "
                               "--checkpoints directory, or pass --resume FILE)");
            resume_from = checkpoints_dir / run / runs::kLatestPointer;
          } else if (auto newest = runs::newest_run(checkpoints_dir, runs::Pointer::kLatest,
                                                    request.config_name)) {
            resume_from = *newest / runs::kLatestPointer;
          } else {
            throw InputError("--resume auto: no run of config '" + request.config_name +
                             "' with a checkpoint under " + checkpoints_dir.string() +
                             " (start one without --resume, or name it with --run)");
          }
        } else if (!request.resume.empty()) {
          resume_from =
              runs::resolve_checkpoint(request.resume, checkpoints_dir, runs::Pointer::kLatest);
        }
        // The run directory a checkpoint came from (symlinks resolved).
        if (resume_from) {
          std::error_code ec;
          const fs::path resolved = fs::canonical(*resume_from, ec);
          if (ec)
            throw InputError(resume_from->string() +
                             ": cannot resolve checkpoint: " + ec.message());
          source_dir = resolved.parent_path();
          if (run.empty()) run = source_dir->filename().string();
        }
        if (run.empty()) run = request.config_name + "-" + timestamp_now();
        const fs::path target_dir = checkpoints_dir / run;
        if (fs::exists(target_dir / runs::kLatestPointer)) {
          // A run directory with checkpoints only continues itself: never mixed with
          // another run's history.
          std::error_code ec;
          const bool same_run = source_dir && fs::equivalent(*source_dir, target_dir, ec);
          if (!same_run)
            throw InputError(
                target_dir.string() + " already holds checkpoints" +
                (resume_from ? " of another run than " + resume_from->string() : std::string()) +
                "; continue it with --resume auto, or choose another --run");
        }
        // The run's own secret: read where the run is continued (the files are the
        // proof of ownership; an older run gets one now), created for a new run.
        std::error_code ec;
        fs::create_directories(target_dir, ec);
        if (ec) throw InputError(target_dir.string() + ": cannot create: " + ec.message());
        if (auto secret = runs::read_run_secret(target_dir)) {
          run_secret = *secret;
        } else {
          run_secret = runs::random_secret();
          runs::write_run_secret(target_dir, run_secret);
        }
        if (resume_from) {
          // Checked against the manifest of the run it belongs to, before loading.
          const bool listed = runs::verify_in_run(*resume_from);
          if (!listed)
            std::cout << "note: " << resume_from->string()
                      << " is not listed in a run manifest; its SHA-256 cannot be checked\n";
          std::ifstream file(*resume_from, std::ios::binary);
          checkpoint_bytes.assign(std::istreambuf_iterator<char>(file),
                                  std::istreambuf_iterator<char>());
          if (!file.good() && !file.eof())
            throw InputError(resume_from->string() + ": cannot read the checkpoint");
        }
      },
      /*root_only=*/true);
  // Rank 0 read the checkpoint; every rank loads the same bytes (no shared file
  // system needed for resuming).
  group.broadcast(run, 0, "sharing the run name");
  group.broadcast(run_secret, 0, "sharing the run's secret");
  std::string resume_text = resume_from ? resume_from->string() : std::string();
  group.broadcast(resume_text, 0, "sharing the checkpoint path");
  if (!resume_text.empty()) resume_from = fs::path(resume_text);
  group.broadcast(checkpoint_bytes, 0, "sharing the checkpoint to resume from");
  const fs::path run_path = checkpoints_dir / run;

  TrainingState state;
  ProgressReporter progress(request.progress && leader, tc.log_every_steps);
  if (resume_from) {
    TrainConfig saved;
    json meta;
    all_or_nothing(group, "loading the checkpoint", [&] {
      meta = load_checkpoint(checkpoint_bytes, *resume_from, config, model, *optimizer, saved);
    });
    checkpoint_bytes = std::string();
    state.epochs_completed = meta.at("epoch").get<int>();
    state.global_step = meta.at("global_step").get<std::int64_t>();
    state.best_val_accuracy = meta.at("best_val_accuracy").get<double>();
    state.best_epoch = meta.at("best_epoch").get<int>();
    state.epochs_without_gain = meta.at("epochs_without_gain").get<int>();
    state.history = meta.at("history");
    schedule.restore({meta.at("plateau_factor").get<double>(),
                      meta.at("plateau_best").get<double>(),
                      meta.at("plateau_without_gain").get<int>()});
    if (budget) {  // continue the budgeted schedule, do not start it again
      budget->restore(meta.value("budget_used_seconds", 0.0),
                      meta.value("budget_planned_epochs", tc.epochs));
      schedule.set_epochs(budget->planned_epochs());
    }
    progress.message("resumed " + resume_from->string() + " after epoch " +
                     std::to_string(state.epochs_completed));
    const int saved_world = meta.value("world_size", 1);
    if (saved_world != world)
      progress.message("note: that checkpoint was written by " + std::to_string(saved_world) +
                       " ranks, this job has " + std::to_string(world) +
                       ": the global batch and the data order per rank change");
    const std::string changes = changed_settings(to_yaml(saved), to_yaml(config));
    if (!changes.empty())
      progress.message("note: settings changed since that checkpoint: " + changes);
  }
  // The coordinator keeps the run directory from here on: metrics.jsonl, checkpoints,
  // manifest.json, config.yaml. Resuming after epoch N, it drops what it holds of later
  // epochs (the run produces them again).
  CoordinatorLink coordinator(config, run, run_secret, state.epochs_completed,
                              request.drop_later_epochs, group,
                              [&](const std::string& line) { progress.message(line); });

  // The replicas start identical (and stay so: every step applies the same averaged
  // gradients); the bucketer averages gradients during backward.
  std::unique_ptr<GradientBucketer> bucketer;
  if (world > 1) {
    broadcast_model_state(*model, *communicator, 0);
    BucketOptions buckets;
    buckets.bucket_mb = config.dist.bucket_mb;
    buckets.first_bucket_mb = config.dist.first_bucket_mb;
    buckets.overlap = config.dist.overlap;
    buckets.compression = config.dist.compression;
    bucketer = std::make_unique<GradientBucketer>(model->parameters(), *communicator, buckets);
  }

  progress.message("fer-train: run " + run_path.string() + " on " + (on_cuda ? "cuda" : "cpu") +
                   ", " + std::to_string(world) + (world == 1 ? " rank" : " ranks") + " x " +
                   std::to_string(threads) + " threads" + (amp ? ", bf16 autocast" : "") +
                   ", LibTorch " + TORCH_VERSION);
  if (bucketer) {
    std::string sizes;
    for (std::size_t bytes : bucketer->bucket_bytes()) {
      char mb[32];
      std::snprintf(mb, sizeof mb, "%s%.2f", sizes.empty() ? "" : " + ", bytes / 1048576.0);
      sizes += mb;
    }
    progress.message("dist: " + communicator->describe() + " all-reduce, " +
                     std::to_string(bucketer->bucket_count()) + " gradient buckets (" + sizes +
                     " MB)" + (config.dist.overlap ? ", overlapped with backward" : "") +
                     "; global batch " +
                     std::to_string(config.data.batch_size * world * accumulation) + "; deadline " +
                     std::to_string(static_cast<int>(config.dist.timeout_seconds)) + " s");
  }
  if (lr_scale != 1.0)
    progress.message("learning rate scaled x" + std::to_string(static_cast<int>(lr_scale)) +
                     " for the global batch (dist.scale_lr): peak " +
                     std::to_string(config.optim.lr * lr_scale));
  progress.message("coordinator: " + coordinator.describe());
  if (!on_cuda)
    progress.message(
        tc.cpu_kernels == "aten"
            ? "CNN training kernels: LibTorch's layers (train.cpu_kernels=aten)"
        : model->fused_cpu_kernels_possible()
            ? "CNN training kernels: fused (oneDNN convolutions on blocked activations, "
              "BatchNorm+ReLU, max-pool+dropout)"
            : "CNN training kernels: LibTorch's layers (fused kernels need channels that are "
              "multiples of 8 and a build with oneDNN)");
  progress.message("model: " + std::to_string(parameter_count(*model)) + " parameters; input " +
                   std::to_string(input_side) + "x" + std::to_string(input_side) + "; RNN reads " +
                   std::to_string(model->sequence_length()) + " steps of " +
                   std::to_string(model->step_features()) + " features");
  const std::size_t val_images =
      config.data.limit_val_images > 0
          ? std::min(val_split.size(), static_cast<std::size_t>(config.data.limit_val_images))
          : val_split.size();
  progress.message(
      "data: " + config.data.shards + ": train " +
      std::to_string(train_loader.samples_per_epoch()) + " images per rank (" +
      std::to_string(optimizer_steps_per_epoch) + " steps of " +
      std::to_string(config.data.batch_size) +
      (accumulation > 1 ? " x " + std::to_string(accumulation) + " micro-batches" : std::string()) +
      "), val " + std::to_string(val_images) + " images");
  // A limit above the split's size silently meaning "all" would mislead a benchmark.
  for (const auto& [key, limit, size] :
       {std::tuple<const char*, std::int64_t, std::size_t>{
            "data.limit_train_images", config.data.limit_train_images, train_split.size()},
        {"data.limit_val_images", config.data.limit_val_images, val_split.size()}})
    if (limit > 0 && static_cast<std::size_t>(limit) > size)
      progress.message(std::string("note: ") + key + " = " + std::to_string(limit) +
                       " exceeds the split's " + std::to_string(size) + " images: all are used");
  progress.message("effective configuration:\n" + to_yaml(config));

  TrainResult result;
  result.run_dir = run_path;
  double forward_seconds = 0, backward_seconds = 0, optimizer_seconds = 0;
  std::int64_t timed_steps = 0, images_seen = 0;
  double training_seconds = 0;
  // The schedule's epochs: train.epochs, or the time budget's plan as it is corrected.
  const auto last_epoch = [&] {
    return request.stop_after_epoch > 0 ? std::min(request.stop_after_epoch, schedule.epochs())
                                        : schedule.epochs();
  };
  // The first plan of a budgeted run comes from the first few steps after the first
  // (which pays for allocations and primitive creation).
  const std::size_t budget_probe_from = std::min<std::size_t>(1, optimizer_steps_per_epoch - 1);
  const std::size_t budget_probe_steps =
      std::min(optimizer_steps_per_epoch - budget_probe_from,
               std::max<std::size_t>(kBudgetProbeMinSteps, optimizer_steps_per_epoch / 20));
  Clock::time_point budget_probe_start;
  if (budget)
    progress.message("time budget: " + format_duration(budget->budget_seconds()) +
                     " of training and validation" +
                     (budget->used_seconds() > 0
                          ? ", " + format_duration(budget->used_seconds()) + " used"
                          : std::string()) +
                     "; epochs (at most " + std::to_string(tc.epochs) + ") fitted to it");

  if (tc.early_stopping_patience > 0 && state.epochs_without_gain >= tc.early_stopping_patience)
    progress.message("this run stopped early after epoch " +
                     std::to_string(state.epochs_completed) + "; nothing left to train");
  for (int epoch = state.epochs_completed;
       epoch < last_epoch() &&
       !(tc.early_stopping_patience > 0 && state.epochs_without_gain >= tc.early_stopping_patience);
       ++epoch) {
    const auto epoch_start = Clock::now();
    model->train();
    train_loader.start_epoch(static_cast<std::uint64_t>(epoch));
    progress.begin_epoch(epoch + 1, schedule.epochs(), optimizer_steps_per_epoch);
    double loss_sum = 0, lr = 0;
    std::int64_t correct = 0, seen = 0;
    const std::size_t loader_steps = train_loader.steps_per_epoch();
    const auto micro = static_cast<std::size_t>(accumulation);
    while (true) {
      // Ctrl-C or SIGTERM: stop between steps; the coordinator marks the run aborted
      // and --resume auto continues it from its last checkpoint.
      if (interrupt_signal())
        throw_if_interrupted("epoch " + std::to_string(epoch + 1) + ", step " +
                             std::to_string(state.global_step));
      auto batch = train_loader.next();
      if (!batch) break;
      if (batch->step == 2) failpoint("step", group.rank(), epoch + 1);  // mid-epoch
      // Micro-batch k of optimizer step `step`; the last step of an epoch may have
      // fewer micro-batches, and the loss is averaged over those it has.
      const std::size_t step = batch->step / micro;
      const std::size_t k = batch->step % micro;
      const std::size_t micro_batches = std::min(micro, loader_steps - step * micro);
      const bool last_micro_batch = k + 1 == micro_batches;
      if (k == 0) {
        lr = schedule.lr_at(epoch, step);
        set_lr(*optimizer, lr);
        optimizer->zero_grad();
      }
      const auto forward_start = Clock::now();
      torch::Tensor labels = batch_labels(*batch, device);
      torch::Tensor logits, loss;
      {
        AutocastScope autocast(amp);
        logits = model->forward(batch_images(*batch, device, channels_last));
        auto options = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(
            config.optim.label_smoothing);
        if (class_weights.defined()) options.weight(class_weights);
        loss = torch::nn::functional::cross_entropy(logits.to(torch::kFloat32), labels, options);
      }
      forward_seconds += seconds_since(forward_start);
      const auto backward_start = Clock::now();
      if (bucketer && last_micro_batch) bucketer->prepare_for_reduction(state.global_step + 1);
      (micro_batches > 1 ? loss / static_cast<double>(micro_batches) : loss).backward();
      backward_seconds += seconds_since(backward_start);
      const auto optimizer_start = Clock::now();
      if (last_micro_batch) {
        if (bucketer) bucketer->finish_reduction();
        if (config.optim.grad_clip_norm > 0)
          torch::nn::utils::clip_grad_norm_(model->parameters(), config.optim.grad_clip_norm);
        optimizer->step();
        ++state.global_step;
        ++timed_steps;
        if (budget && !resume_from && epoch == 0 && step + 1 == budget_probe_from)
          budget_probe_start = Clock::now();
        if (budget && !resume_from && epoch == 0 &&
            step + 1 == budget_probe_from + budget_probe_steps) {
          // Every rank is at this step (same step count by construction): one plan.
          double probe_seconds = budget_probe_from > 0 ? seconds_since(budget_probe_start)
                                                       : seconds_since(epoch_start);
          group.all_reduce_sum(&probe_seconds, 1, "time budget: first steps");
          probe_seconds /= world;
          // Validation costs about a forward pass (a third of a step) per image.
          const double eval_fraction = static_cast<double>(val_loader.samples_per_epoch()) /
                                       static_cast<double>(train_loader.samples_per_epoch()) / 3.0;
          schedule.set_epochs(budget->plan_from_first_steps(
              probe_seconds, budget_probe_steps, optimizer_steps_per_epoch, eval_fraction));
          progress.message("time budget: " + std::to_string(budget_probe_steps) + " steps in " +
                           format_duration(probe_seconds) + " -> " +
                           std::to_string(schedule.epochs()) + " epochs planned");
        }
        coordinator.progress(epoch + 1, state.global_step);  // for the status page; no wait
      }
      optimizer_seconds += seconds_since(optimizer_start);
      loss_sum += loss.item<double>() * batch->size;
      correct += logits.argmax(1).eq(labels).sum().item<std::int64_t>();
      seen += batch->size;
      if (last_micro_batch)
        progress.update(step, loss_sum / static_cast<double>(seen),
                        static_cast<double>(correct) / static_cast<double>(seen),
                        static_cast<double>(seen * world) / seconds_since(epoch_start), lr);
    }
    const double train_seconds = seconds_since(epoch_start);
    // The epoch's training figures over all ranks.
    double train_totals[3] = {loss_sum, static_cast<double>(correct), static_cast<double>(seen)};
    group.all_reduce_sum(train_totals, 3, "training totals of epoch " + std::to_string(epoch + 1));
    loss_sum = train_totals[0];
    correct = static_cast<std::int64_t>(train_totals[1]);
    seen = static_cast<std::int64_t>(train_totals[2]);
    training_seconds += train_seconds;
    images_seen += seen;

    // Every rank updated its BatchNorm statistics from its own batches.
    if (world > 1) average_buffers(*model, *communicator);
    failpoint("validation", group.rank(), epoch + 1);
    Evaluation val = evaluate(model, val_loader, device, amp, channels_last);
    const Evaluation local_val = val;  // this rank's counts, for the coordinator
    reduce_evaluation(val, group, "validation of epoch " + std::to_string(epoch + 1));
    const double val_accuracy = val.matrix.accuracy();
    schedule.end_of_epoch(val_accuracy);
    const bool is_best = val_accuracy > state.best_val_accuracy;
    if (is_best) {
      state.best_val_accuracy = val_accuracy;
      state.best_epoch = epoch + 1;
      state.epochs_without_gain = 0;
    } else {
      ++state.epochs_without_gain;
    }
    state.epochs_completed = epoch + 1;
    if (budget) {
      // The ranks' mean, so every rank makes the same plan.
      double epoch_seconds = seconds_since(epoch_start);
      group.all_reduce_sum(&epoch_seconds, 1, "time budget: epoch " + std::to_string(epoch + 1));
      const int before = schedule.epochs();
      schedule.set_epochs(budget->end_of_epoch(epoch + 1, epoch_seconds / world));
      if (schedule.epochs() != before)
        progress.message("time budget: " + format_duration(budget->used_seconds()) + " used, " +
                         format_duration(budget->seconds_per_epoch()) + " per epoch -> " +
                         std::to_string(schedule.epochs()) + " epochs planned (was " +
                         std::to_string(before) + ")");
    }
    const double images_per_second = static_cast<double>(seen) / train_seconds;
    json record = {{"epoch", epoch + 1},
                   {"step", state.global_step},
                   {"lr", lr},
                   {"train_loss", loss_sum / static_cast<double>(std::max<std::int64_t>(1, seen))},
                   {"train_accuracy", static_cast<double>(correct) /
                                          static_cast<double>(std::max<std::int64_t>(1, seen))},
                   {"val_loss", val.loss()},
                   {"val_accuracy", val_accuracy},
                   {"val_macro_f1", val.matrix.macro_f1()},
                   {"val_images", val.samples},
                   {"val_confusion_matrix", val.matrix.counts()},
                   {"images_per_second", images_per_second},
                   {"seconds", seconds_since(epoch_start)}};
    json recalls = json::array();
    for (int c = 0; c < kNumEmotions; ++c) recalls.push_back(val.matrix.class_metrics(c).recall);
    record["val_recall"] = recalls;
    state.history.push_back(record);

    const bool stop_early =
        tc.early_stopping_patience > 0 && state.epochs_without_gain >= tc.early_stopping_patience;
    const bool last = epoch + 1 >= last_epoch() || stop_early;
    // Every rank reports its own counts; the coordinator sums them into the metrics
    // line (exactly what the all-reduce above computed) with rank 0's training figures.
    // The line goes first: a kill before the checkpoint is stored is repaired on resume
    // (the coordinator drops lines after the resumed epoch).
    json extra = json::object();
    if (leader)
      for (const char* key :
           {"step", "lr", "train_loss", "train_accuracy", "images_per_second", "seconds"})
        extra[key] = record[key];
    coordinator.report_eval("val", epoch + 1, local_val.matrix.counts(), kNumEmotions,
                            local_val.loss_sum, local_val.samples, extra);
    coordinator.progress(epoch + 1, state.global_step);
    if (leader && ((epoch + 1) % config.checkpoint.every_epochs == 0 || last || is_best)) {
      const PlateauState& plateau = schedule.plateau();
      json meta = {{"format_version", kCheckpointFormatVersion},
                   {"epoch", state.epochs_completed},
                   {"global_step", state.global_step},
                   {"best_val_accuracy", state.best_val_accuracy},
                   {"best_epoch", state.best_epoch},
                   {"epochs_without_gain", state.epochs_without_gain},
                   {"plateau_factor", plateau.factor},
                   {"plateau_best", plateau.best_accuracy},
                   {"plateau_without_gain", plateau.epochs_without_gain},
                   {"config", to_yaml(config)},
                   {"history", state.history},
                   {"world_size", world},
                   {"libtorch", TORCH_VERSION}};
      if (budget) {
        meta["budget_used_seconds"] = budget->used_seconds();
        meta["budget_planned_epochs"] = budget->planned_epochs();
      }
      coordinator.upload_checkpoint(epoch + 1, state.global_step,
                                    serialize_checkpoint(model, *optimizer, meta),
                                    {{"val_accuracy", val_accuracy},
                                     {"val_loss", val.loss()},
                                     {"val_macro_f1", val.matrix.macro_f1()}});
      failpoint("upload", group.rank(), epoch + 1);
    }

    char line[512];
    std::snprintf(line, sizeof line,
                  "epoch %d/%d  train loss %.4f acc %5.1f%%  |  val loss %.4f acc %5.1f%% (best "
                  "%.1f%% @%d)  |  "
                  "%.0f img/s  %s\n    val recall: %s",
                  epoch + 1, schedule.epochs(), record["train_loss"].get<double>(),
                  100 * record["train_accuracy"].get<double>(), val.loss(), 100 * val_accuracy,
                  100 * state.best_val_accuracy, state.best_epoch, images_per_second,
                  format_duration(seconds_since(epoch_start)).c_str(),
                  recall_line(val.matrix).c_str());
    progress.end_epoch(line);
    for (const std::string& problem : coordinator.problems())
      progress.message("coordinator: " + problem);
    if (config.checkpoint.on_store_failure == "stop") {
      const std::vector<int> lost = coordinator.lost_checkpoints();  // collective
      if (!lost.empty())
        throw JobWideError("the checkpoint of epoch " + std::to_string(lost.front()) +
                               " was not stored (the coordinator's reason is above); the run "
                               "stops after epoch " +
                               std::to_string(epoch + 1) +
                               " (checkpoint.on_store_failure=continue trains on)",
                           kExitFailure, leader);
    }
    result.last_val_accuracy = val_accuracy;
    if (stop_early) {
      progress.message("early stopping: no val-accuracy gain for " +
                       std::to_string(state.epochs_without_gain) + " epochs");
      break;
    }
  }

  // Everything is acknowledged (metrics.jsonl and the checkpoints are on disk) before
  // the summary says where they are.
  const CoordinatorLink::Outcome stored = coordinator.finish();

  result.epochs_completed = state.epochs_completed;
  result.best_val_accuracy = state.best_val_accuracy;
  result.best_epoch = state.best_epoch;
  result.images_per_second =
      training_seconds > 0 ? static_cast<double>(images_seen) / training_seconds : 0;
  const auto allreduce_seconds = [&] { return bucketer ? bucketer->exposed_seconds() : 0.0; };
  result.allreduce_wait_per_step =
      timed_steps > 0 ? allreduce_seconds() / static_cast<double>(timed_steps) : 0;

  // Summary table.
  std::ostringstream summary;
  summary << "\nsummary of " << run_path.string()
          << "\n  epoch  train_loss  train_acc  val_loss  val_acc  "
          << "macro_f1     img/s\n";
  char row[160];
  for (const json& r : state.history) {
    std::snprintf(row, sizeof row, "  %5d  %10.4f  %8.1f%%  %8.4f  %6.1f%%  %8.3f  %8.0f\n",
                  r["epoch"].get<int>(), r["train_loss"].get<double>(),
                  100 * r["train_accuracy"].get<double>(), r["val_loss"].get<double>(),
                  100 * r["val_accuracy"].get<double>(), r["val_macro_f1"].get<double>(),
                  r["images_per_second"].get<double>());
    summary << row;
  }
  if (timed_steps > 0) {
    std::snprintf(
        row, sizeof row,
        "  time per step (ms, rank 0): data wait %.2f, forward %.2f, backward %.2f, "
        "all-reduce wait %.2f, optimizer %.2f; %.0f img/s (all ranks)\n",
        1e3 * train_loader.wait_seconds() / timed_steps, 1e3 * forward_seconds / timed_steps,
        1e3 * backward_seconds / timed_steps, 1e3 * result.allreduce_wait_per_step,
        1e3 * (optimizer_seconds - allreduce_seconds()) / timed_steps, result.images_per_second);
    summary << row;
  }
  // What the run store really holds, by the metric that ranks it (checkpoint.best_metric).
  if (stored.best.is_object()) {
    const json& metrics = stored.best.value("metrics", json::object());
    std::snprintf(
        row, sizeof row, "  best checkpoint by %s: epoch %d (val accuracy %.2f%%) -> %s\n",
        config.checkpoint.best_metric.c_str(), stored.best.value("epoch", 0),
        100 * metrics.value("val_accuracy", 0.0), (run_path / runs::kBestPointer).c_str());
    summary << row;
  } else if (leader) {
    summary << (stored.complete ? "  no checkpoint of this run is stored\n"
                                : "  best checkpoint: not known (the coordinator did not confirm "
                                  "every checkpoint; see below)\n");
  }
  progress.message(summary.str());
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
        kExitFailure, leader);
  }
  if (stored.best.is_object()) result.best_epoch = stored.best.value("epoch", result.best_epoch);
  return result;
}

}  // namespace fer
