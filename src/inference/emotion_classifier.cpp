#include "inference/emotion_classifier.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "common/blas_threads.hpp"
#include "common/error.hpp"
#include "common/parallel.hpp"
#include "data/emotions.hpp"
#include "model/checkpoint_archive.hpp"
#include "pipeline/augment.hpp"

namespace fer {
namespace fs = std::filesystem;

namespace {

// The newest run directory (by its manifest's time) that holds `pointer`.
std::optional<fs::path> newest_run_with(const fs::path& checkpoints_dir, const char* pointer) {
  std::optional<fs::path> newest;
  fs::file_time_type newest_time{};
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(checkpoints_dir, ec)) {
    if (!fs::exists(entry.path() / pointer, ec)) continue;
    const auto time = fs::last_write_time(entry.path() / "manifest.json", ec);
    if (ec) continue;
    if (!newest || time > newest_time) {
      newest = entry.path() / pointer;
      newest_time = time;
    }
  }
  return newest;
}

}  // namespace

fs::path resolve_model_checkpoint(const std::string& spec, const fs::path& checkpoints_dir) {
  if (spec == "best" || spec == "latest") {
    const std::string pointer = spec + ".pt";
    if (auto found = newest_run_with(checkpoints_dir, pointer.c_str())) return *found;
    throw InputError("--checkpoint " + spec + ": no run under " + checkpoints_dir.string() +
                     " has a " + pointer + " (train first, or name a checkpoint file or run)");
  }
  std::vector<std::string> tried;
  for (const fs::path& candidate : {fs::path(spec), checkpoints_dir / spec}) {
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return candidate;
    if (fs::is_directory(candidate, ec)) {
      for (const char* pointer : {"best.pt", "latest.pt"})
        if (fs::exists(candidate / pointer, ec)) return candidate / pointer;
      throw InputError(candidate.string() + ": run directory without best.pt or latest.pt");
    }
    tried.push_back(candidate.string());
  }
  throw InputError("checkpoint '" + spec + "' not found (tried " + tried[0] + " and " + tried[1] +
                   "; or use best / latest)");
}

struct EmotionClassifier::State {
  fs::path path;
  CheckpointArchive checkpoint;
  FerNet model{nullptr};
  torch::Device device{torch::kCPU};
  int side = 48;
};

EmotionClassifier::EmotionClassifier(const fs::path& checkpoint, const ClassifierOptions& options)
    : state_(std::make_unique<State>()) {
  torch::set_num_threads(threads_per_process(options.threads));
  // Inference matrix products are small; OpenBLAS's spinning workers beside LibTorch's
  // threads doubled fer-predict's latency on 2 cores (tests/bench/bench_predict.sh).
  set_blas_threads(1);
  const bool cuda = torch::cuda::is_available();
  if (options.device == "cuda" && !cuda)
    throw InputError(
        "--device cuda, but this LibTorch has no usable CUDA device (use auto or cpu)");
  if (options.device != "auto" && options.device != "cpu" && options.device != "cuda")
    throw InputError("--device: '" + options.device + "'; choose auto, cpu or cuda");
  state_->device = (options.device == "cuda" || (options.device == "auto" && cuda))
                       ? torch::Device(torch::kCUDA, 0)
                       : torch::Device(torch::kCPU);
  state_->path = checkpoint;
  state_->checkpoint = open_checkpoint_file(checkpoint);
  state_->model = load_model(state_->checkpoint, checkpoint);
  state_->model->to(state_->device);
  state_->model->eval();
  state_->side = model_input_size(state_->checkpoint.config.augment);
}

EmotionClassifier::~EmotionClassifier() = default;

const fs::path& EmotionClassifier::path() const {
  return state_->path;
}
const TrainConfig& EmotionClassifier::config() const {
  return state_->checkpoint.config;
}
const nlohmann::json& EmotionClassifier::meta() const {
  return state_->checkpoint.meta;
}
int EmotionClassifier::input_side() const {
  return state_->side;
}
std::string EmotionClassifier::device() const {
  return state_->device.str();
}

std::string EmotionClassifier::describe() const {
  const auto& meta = state_->checkpoint.meta;
  std::string text = state_->path.string() + " (epoch " + std::to_string(meta.value("epoch", 0));
  const auto& history = meta.value("history", nlohmann::json::array());
  const int epoch = meta.value("epoch", 0);
  for (const auto& record : history)
    if (record.value("epoch", -1) == epoch && record.contains("val_accuracy")) {
      char accuracy[32];
      std::snprintf(accuracy, sizeof accuracy, ", val accuracy %.2f%%",
                    100 * record["val_accuracy"].get<double>());
      text += accuracy;
    }
  return text + ")";
}

void EmotionClassifier::logits(const float* images, int count, int views, float* out) const {
  if (count <= 0) return;
  torch::InferenceMode inference;
  const int side = state_->side;
  torch::Tensor batch =
      torch::from_blob(const_cast<float*>(images),
                       {static_cast<long>(count) * views, 1, side, side}, torch::kFloat32);
  if (!state_->device.is_cpu()) batch = batch.to(state_->device);
  torch::Tensor result = state_->model->forward(batch).to(torch::kFloat32);
  result = result.view({count, views, kNumEmotions}).mean(1).contiguous().to(torch::kCPU);
  std::copy_n(result.data_ptr<float>(), static_cast<std::size_t>(count) * kNumEmotions, out);
}

std::vector<double> softmax(const float* logits, int classes) {
  const float largest = *std::max_element(logits, logits + classes);
  std::vector<double> p(static_cast<std::size_t>(classes));
  double sum = 0;
  for (int c = 0; c < classes; ++c)
    sum += p[static_cast<std::size_t>(c)] = std::exp(static_cast<double>(logits[c] - largest));
  for (double& value : p) value /= sum;
  return p;
}

}  // namespace fer
