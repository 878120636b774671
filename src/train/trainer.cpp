#include "train/trainer.hpp"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "common/error.hpp"
#include "data/image_stats.hpp"
#include "data/shard_reader.hpp"
#include "metrics/confusion_matrix.hpp"
#include "model/fer_net.hpp"
#include "pipeline/augment.hpp"
#include "pipeline/batch_loader.hpp"
#include "train/lr_schedule.hpp"
#include "train/progress.hpp"
#include "train/run_directory.hpp"

namespace fer {
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kCheckpointFormatVersion = 1;
constexpr const char* kEmotionShort[kNumEmotions] = {"An", "Di", "Fe", "Ha", "Sa", "Su", "Ne"};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

torch::Device choose_device(const std::string& wanted) {
  const bool cuda = torch::cuda::is_available();
  if (wanted == "cuda" && !cuda)
    throw InputError(
        "train.device=cuda, but this LibTorch has no usable CUDA device (use auto or cpu)");
  return (wanted == "cuda" || (wanted == "auto" && cuda)) ? torch::Device(torch::kCUDA)
                                                          : torch::Device(torch::kCPU);
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
// texts (same schema, same order).
std::string changed_settings(const std::string& before, const std::string& after) {
  std::istringstream a(before), b(after);
  std::string line_a, line_b, section, changes;
  while (std::getline(a, line_a) && std::getline(b, line_b)) {
    if (!line_a.empty() && line_a[0] != ' ') section = line_a.substr(0, line_a.find(':'));
    if (line_a == line_b) continue;
    const auto colon = line_a.find(':');
    changes += (changes.empty() ? "" : ", ") + section + "." + line_a.substr(2, colon - 2) + ":" +
               line_a.substr(colon + 1) + " ->" + line_b.substr(line_b.find(':') + 1);
  }
  return changes;
}

std::string timestamp_now() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%d-%H%M%S", std::localtime(&now));
  return text;
}

// The newest run of `config_name` that has a checkpoint, if any.
std::optional<fs::path> newest_run(const fs::path& checkpoints_dir,
                                   const std::string& config_name) {
  std::optional<fs::path> best;
  fs::file_time_type best_time{};
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(checkpoints_dir, ec)) {
    const std::string name = entry.path().filename().string();
    // Only runs named by default for this config: <config>-YYYYmmdd-HHMMSS.
    static const std::regex kStamp("-[0-9]{8}-[0-9]{6}");
    if (name.size() != config_name.size() + 16 || name.rfind(config_name, 0) != 0 ||
        !std::regex_match(name.substr(config_name.size()), kStamp) ||
        !fs::exists(entry.path() / "latest.pt"))
      continue;
    const auto time = fs::last_write_time(entry.path() / "manifest.json", ec);
    if (!best || time > best_time) {
      best = entry.path();
      best_time = time;
    }
  }
  return best;
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

// Loads a checkpoint into `model` and `optimizer` only after every check passed:
// readable archive, format version, same architecture, every tensor present with the
// right shape (loaded into a scratch model first). Returns its metadata; `saved`
// receives the configuration stored in it.
json load_checkpoint(const fs::path& path, const TrainConfig& config, int input_side, FerNet& model,
                     torch::optim::Optimizer& optimizer, TrainConfig& saved) {
  torch::serialize::InputArchive archive;
  json meta;
  try {
    archive.load_from(path.string());
    c10::IValue meta_value;
    archive.read("meta", meta_value);
    meta = json::parse(meta_value.toStringRef());
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    throw CorruptDataError(
        path.string() + ": not a readable fer-train checkpoint (truncated or damaged?): " + what);
  }
  const int version = meta.value("format_version", -1);
  if (version != kCheckpointFormatVersion)
    throw CorruptDataError(path.string() + ": checkpoint format version " +
                           std::to_string(version) + ", this build reads " +
                           std::to_string(kCheckpointFormatVersion));
  saved = config;
  apply_config_text(saved, meta.at("config").get<std::string>(),
                    path.string() + " (stored config)");
  if (architecture_of(saved) != architecture_of(config))
    throw InputError(path.string() +
                     ": the checkpoint's model or optimizer differs from this configuration:\n" +
                     architecture_of(saved) + "--- versus ---\n" + architecture_of(config));
  FerNet scratch(config.model, input_side);
  try {
    torch::serialize::InputArchive model_archive, optimizer_archive;
    archive.read("model", model_archive);
    scratch->load(model_archive);
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
  return meta;
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

}  // namespace

TrainResult train(const TrainRequest& request) {
  TrainConfig config = request.config;
  validate(config);
  const auto& tc = config.train;
  const int threads = tc.threads > 0
                          ? tc.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  torch::manual_seed(tc.seed);
  if (tc.deterministic) at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/false);
  const torch::Device device = choose_device(tc.device);
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
  if (const std::string warning = sharpness_warning(dataset.manifest()); !warning.empty()) {
    if (config.augment.eval_blur_sigma > 0)
      std::cout << "note: " << warning
                << " (augment.eval_blur_sigma = " << config.augment.eval_blur_sigma << " is set)\n";
    else
      std::cout << "warning: " << warning << "\n";
  }

  LoaderOptions train_options;
  train_options.batch_size = config.data.batch_size;
  train_options.threads = config.data.loader_threads;
  train_options.prefetch = config.data.prefetch_batches;
  train_options.seed = tc.seed;
  train_options.limit = static_cast<std::size_t>(config.data.limit_train_images);
  train_options.augment = config.augment;
  LoaderOptions val_options = train_options;
  val_options.training = false;
  val_options.batch_size = config.data.eval_batch_size;
  val_options.limit = static_cast<std::size_t>(config.data.limit_val_images);
  BatchLoader train_loader(train_split, train_options);
  BatchLoader val_loader(val_split, val_options);

  const int input_side = model_input_size(config.augment);
  FerNet model(config.model, input_side);
  model->to(device);
  if (channels_last)
    for (auto& p : model->parameters())
      if (p.dim() == 4) p.set_data(p.data().contiguous(at::MemoryFormat::ChannelsLast));
  auto optimizer = make_optimizer(config.optim, model);
  LrSchedule schedule(config.schedule, config.optim.lr, tc.epochs, train_loader.steps_per_epoch());
  torch::Tensor class_weights;
  if (config.optim.class_weights)
    class_weights =
        class_weights_from(dataset.manifest().split(Split::kTrain).class_counts).to(device);

  // Where the run lives, and what it resumes from.
  const fs::path checkpoints_dir = config.checkpoint.dir;
  std::optional<fs::path> resume_from;
  std::string run = request.run;
  if (request.resume == "auto") {
    if (!run.empty() && fs::exists(checkpoints_dir / run / "latest.pt"))
      resume_from = checkpoints_dir / run / "latest.pt";
    else if (run.empty())
      if (auto newest = newest_run(checkpoints_dir, request.config_name))
        resume_from = *newest / "latest.pt";
  } else if (!request.resume.empty()) {
    resume_from = resolve_checkpoint(request.resume, checkpoints_dir);
  }
  // The run directory a checkpoint came from (symlinks resolved).
  std::optional<fs::path> source_dir;
  if (resume_from) {
    std::error_code ec;
    const fs::path resolved = fs::canonical(*resume_from, ec);
    if (ec)
      throw InputError(resume_from->string() + ": cannot resolve checkpoint: " + ec.message());
    source_dir = resolved.parent_path();
    if (run.empty()) run = source_dir->filename().string();
  }
  if (run.empty()) run = request.config_name + "-" + timestamp_now();
  const fs::path target_dir = checkpoints_dir / run;
  if (fs::exists(target_dir / "latest.pt")) {
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
  RunDirectory run_dir(target_dir, config.checkpoint.keep_last);

  TrainingState state;
  ProgressReporter progress(request.progress, tc.log_every_steps);
  if (resume_from) {
    // Checked against the manifest of the run it belongs to, before loading.
    const bool listed = RunDirectory(*source_dir, config.checkpoint.keep_last).verify(*resume_from);
    if (!listed)
      progress.message("note: " + resume_from->string() +
                       " is not listed in a run manifest; its SHA-256 cannot be checked");
    TrainConfig saved;
    const json meta = load_checkpoint(*resume_from, config, input_side, model, *optimizer, saved);
    state.epochs_completed = meta.at("epoch").get<int>();
    state.global_step = meta.at("global_step").get<std::int64_t>();
    state.best_val_accuracy = meta.at("best_val_accuracy").get<double>();
    state.best_epoch = meta.at("best_epoch").get<int>();
    state.epochs_without_gain = meta.at("epochs_without_gain").get<int>();
    state.history = meta.at("history");
    schedule.restore({meta.at("plateau_factor").get<double>(),
                      meta.at("plateau_best").get<double>(),
                      meta.at("plateau_without_gain").get<int>()});
    // Resuming from an older checkpoint of this run: its later epochs are redone.
    run_dir.forget_after(state.epochs_completed);
    run_dir.rewrite_metrics(state.history);
    progress.message("resumed " + resume_from->string() + " after epoch " +
                     std::to_string(state.epochs_completed));
    const std::string changes = changed_settings(to_yaml(saved), to_yaml(config));
    if (!changes.empty())
      progress.message("note: settings changed since that checkpoint: " + changes);
  }
  run_dir.write_text("config.yaml", to_yaml(config));

  progress.message("fer-train: run " + run_dir.path().string() + " on " +
                   (on_cuda ? "cuda" : "cpu") + ", " + std::to_string(threads) + " threads" +
                   (amp ? ", bf16 autocast" : "") + ", LibTorch " + TORCH_VERSION);
  progress.message("model: " + std::to_string(parameter_count(*model)) + " parameters; input " +
                   std::to_string(input_side) + "x" + std::to_string(input_side) + "; RNN reads " +
                   std::to_string(model->sequence_length()) + " steps of " +
                   std::to_string(model->step_features()) + " features");
  progress.message("data: " + config.data.shards + ": train " +
                   std::to_string(train_loader.samples_per_epoch()) + " images (" +
                   std::to_string(train_loader.steps_per_epoch()) + " steps of " +
                   std::to_string(config.data.batch_size) + "), val " +
                   std::to_string(val_loader.samples_per_epoch()));
  progress.message("effective configuration:\n" + to_yaml(config));

  TrainResult result;
  result.run_dir = run_dir.path();
  double forward_seconds = 0, backward_seconds = 0, optimizer_seconds = 0;
  std::int64_t timed_steps = 0, images_seen = 0;
  double training_seconds = 0;
  const int last_epoch =
      request.stop_after_epoch > 0 ? std::min(request.stop_after_epoch, tc.epochs) : tc.epochs;

  if (tc.early_stopping_patience > 0 && state.epochs_without_gain >= tc.early_stopping_patience)
    progress.message("this run stopped early after epoch " +
                     std::to_string(state.epochs_completed) + "; nothing left to train");
  for (int epoch = state.epochs_completed;
       epoch < last_epoch &&
       !(tc.early_stopping_patience > 0 && state.epochs_without_gain >= tc.early_stopping_patience);
       ++epoch) {
    const auto epoch_start = Clock::now();
    model->train();
    train_loader.start_epoch(static_cast<std::uint64_t>(epoch));
    progress.begin_epoch(epoch + 1, tc.epochs, train_loader.steps_per_epoch());
    double loss_sum = 0, lr = 0;
    std::int64_t correct = 0, seen = 0;
    while (true) {
      auto batch = train_loader.next();
      if (!batch) break;
      lr = schedule.lr_at(epoch, batch->step);
      set_lr(*optimizer, lr);
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
      optimizer->zero_grad();
      loss.backward();
      backward_seconds += seconds_since(backward_start);
      const auto optimizer_start = Clock::now();
      if (config.optim.grad_clip_norm > 0)
        torch::nn::utils::clip_grad_norm_(model->parameters(), config.optim.grad_clip_norm);
      optimizer->step();
      optimizer_seconds += seconds_since(optimizer_start);
      loss_sum += loss.item<double>() * batch->size;
      correct += logits.argmax(1).eq(labels).sum().item<std::int64_t>();
      seen += batch->size;
      ++state.global_step;
      ++timed_steps;
      progress.update(batch->step, loss_sum / static_cast<double>(seen),
                      static_cast<double>(correct) / static_cast<double>(seen),
                      static_cast<double>(seen) / seconds_since(epoch_start), lr);
    }
    const double train_seconds = seconds_since(epoch_start);
    training_seconds += train_seconds;
    images_seen += seen;

    const Evaluation val = evaluate(model, val_loader, device, amp, channels_last);
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
    const bool last = epoch + 1 == last_epoch || stop_early;
    // The metrics line first: a kill before the checkpoint is committed is repaired
    // on resume (metrics.jsonl is rewritten from the checkpoint's history).
    run_dir.append_metrics(record);
    if ((epoch + 1) % config.checkpoint.every_epochs == 0 || last || is_best) {
      const PlateauState& plateau = schedule.plateau();
      const json meta = {{"format_version", kCheckpointFormatVersion},
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
                         {"libtorch", TORCH_VERSION}};
      run_dir.commit(epoch + 1, state.global_step, serialize_checkpoint(model, *optimizer, meta),
                     val_accuracy, val.loss(), is_best);
    }

    char line[512];
    std::snprintf(line, sizeof line,
                  "epoch %d/%d  train loss %.4f acc %5.1f%%  |  val loss %.4f acc %5.1f%% (best "
                  "%.1f%% @%d)  |  "
                  "%.0f img/s  %s\n    val recall: %s",
                  epoch + 1, tc.epochs, record["train_loss"].get<double>(),
                  100 * record["train_accuracy"].get<double>(), val.loss(), 100 * val_accuracy,
                  100 * state.best_val_accuracy, state.best_epoch, images_per_second,
                  format_duration(seconds_since(epoch_start)).c_str(),
                  recall_line(val.matrix).c_str());
    progress.end_epoch(line);
    result.last_val_accuracy = val_accuracy;
    if (stop_early) {
      progress.message("early stopping: no val-accuracy gain for " +
                       std::to_string(state.epochs_without_gain) + " epochs");
      break;
    }
  }

  result.epochs_completed = state.epochs_completed;
  result.best_val_accuracy = state.best_val_accuracy;
  result.best_epoch = state.best_epoch;
  result.images_per_second =
      training_seconds > 0 ? static_cast<double>(images_seen) / training_seconds : 0;

  // Summary table.
  std::ostringstream summary;
  summary << "\nsummary of " << run_dir.path().string()
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
    std::snprintf(row, sizeof row,
                  "  time per step (ms): data wait %.2f, forward %.2f, backward %.2f, optimizer "
                  "%.2f; %.0f img/s\n",
                  1e3 * train_loader.wait_seconds() / timed_steps,
                  1e3 * forward_seconds / timed_steps, 1e3 * backward_seconds / timed_steps,
                  1e3 * optimizer_seconds / timed_steps, result.images_per_second);
    summary << row;
  }
  std::snprintf(row, sizeof row, "  best val accuracy %.2f%% at epoch %d -> %s\n",
                100 * state.best_val_accuracy, state.best_epoch,
                (run_dir.path() / "best.pt").c_str());
  summary << row;
  progress.message(summary.str());
  return result;
}

}  // namespace fer
