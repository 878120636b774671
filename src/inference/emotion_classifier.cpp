#include "inference/emotion_classifier.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "common/blas_threads.hpp"
#include "common/error.hpp"
#include "common/parallel.hpp"
#include "data/emotions.hpp"
#include "model/checkpoint_archive.hpp"
#include "model/compute_device.hpp"
#include "pipeline/augment.hpp"
#include "runs/run_lookup.hpp"

namespace fer {
namespace fs = std::filesystem;

fs::path resolve_model_checkpoint(const std::string& spec, const fs::path& checkpoints_dir) {
  return runs::resolve_checkpoint(spec, checkpoints_dir, runs::Pointer::kBest);
}

struct EmotionClassifier::State {
  fs::path path;
  CheckpointArchive checkpoint;
  FerNet model{nullptr};
  torch::Device device{torch::kCPU};
  InferencePrecision precision = InferencePrecision::kF32;
  int side = 48;
};

EmotionClassifier::EmotionClassifier(const fs::path& checkpoint, const ClassifierOptions& options)
    : state_(std::make_unique<State>()) {
  torch::set_num_threads(threads_per_process(options.threads));
  // Inference matrix products are small; OpenBLAS's spinning workers beside LibTorch's
  // threads doubled fer-predict's latency on 2 cores (tests/bench/bench_predict.sh).
  set_blas_threads(1);
  state_->device = choose_device(options.device, 0, "--device cuda");
  if (options.precision == InferencePrecision::kBf16 &&
      (!state_->device.is_cpu() || !options.inference_kernels))
    throw InputError("--precision bf16 runs the CPU inference kernels; on " + state_->device.str() +
                     (options.inference_kernels ? "" : " with LibTorch's layers") +
                     " use --precision f32");
  state_->path = checkpoint;
  // Inside its run, a checkpoint is checked against the run's manifest first (size
  // and SHA-256): a damaged file is refused (rc 3), never scored.
  runs::verify_in_run(checkpoint);
  state_->checkpoint = open_checkpoint_file(checkpoint);
  state_->model = load_model(state_->checkpoint, checkpoint);
  state_->model->to(state_->device);
  state_->model->eval();
  // CPU: the inference kernels (BatchNorm folded into the convolutions, ReLU fused,
  // activations in oneDNN's layout, f32 or bf16); LibTorch's layers when this build or
  // shape has none (then only f32 is accepted).
  if (options.inference_kernels && state_->device.is_cpu()) {
    try {
      if (state_->model->use_inference_kernels(options.precision))
        state_->precision = options.precision;
    } catch (const std::invalid_argument& error) {
      throw InputError(std::string("--precision bf16: ") + error.what() + "; use --precision f32");
    }
    if (state_->precision != options.precision)
      throw InputError(
          "--precision bf16: this model's shape or this build has no inference "
          "kernels; use --precision f32");
  }
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
InferencePrecision EmotionClassifier::precision() const {
  return state_->precision;
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
