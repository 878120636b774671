#pragma once
// A trained model ready to classify faces, shared by fer-eval and fer-predict: loads a
// checkpoint, puts the network in evaluation mode on the chosen device, and turns
// batches of normalised views (pipeline/augment.hpp eval_views, the same
// normalisation as training) into logits averaged over each image's views. No
// LibTorch in this header (the tools that use it compile quickly).

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/train_config.hpp"

namespace fer {

// What --checkpoint names: "best" / "latest" (that pointer of the newest run under
// `checkpoints_dir`), a run directory or run name (its best.pt, else latest.pt), or a
// checkpoint file. Throws InputError naming what was tried.
std::filesystem::path resolve_model_checkpoint(const std::string& spec,
                                               const std::filesystem::path& checkpoints_dir);

struct ClassifierOptions {
  DeviceChoice device = DeviceChoice::kAuto;  // auto | cpu | cuda
  int threads = 0;                            // intra-op threads; 0: all cores
  // CPU: the CNN on the inference kernels (model/fer_net.hpp use_inference_kernels);
  // false: LibTorch's layers (the reference they are tested against).
  bool inference_kernels = true;
  // The inference kernels' arithmetic (--precision): f32 (exact), or bf16 where the CPU
  // has AVX512-BF16 (InputError otherwise, and on CUDA or with inference_kernels off).
  InferencePrecision precision = InferencePrecision::kF32;
};

class EmotionClassifier {
 public:
  EmotionClassifier(const std::filesystem::path& checkpoint, const ClassifierOptions& options);
  ~EmotionClassifier();
  EmotionClassifier(const EmotionClassifier&) = delete;
  EmotionClassifier& operator=(const EmotionClassifier&) = delete;

  const std::filesystem::path& path() const;
  const TrainConfig& config() const;   // as stored in the checkpoint
  const nlohmann::json& meta() const;  // epoch, step, history, ...
  int input_side() const;              // side of the views the model takes
  std::string device() const;          // "cpu", "cuda:0"
  InferencePrecision precision() const;
  std::string describe() const;  // "checkpoints/run/epoch-0007.pt (epoch 7, val 61.2%)"

  // images: count * views images of input_side()^2 normalised floats, the views of one
  // image consecutive. out: count * 7 logits, each the mean over the image's views.
  void logits(const float* images, int count, int views, float* out) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Softmax of 7 logits (numerically stable).
std::vector<double> softmax(const float* logits, int classes);

}  // namespace fer
