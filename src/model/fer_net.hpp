#pragma once
// The hybrid CNN-RNN classifier. CNN stages turn a 1 x S x S face into a C x h x w
// feature map; the map is read as a sequence (rows, columns, or the raster of
// positions) by an LSTM or GRU (or, for the CNN-alone baseline, by nothing); the sequence is pooled
// (last step, mean, or learned attention) and a linear layer gives the logits of the 7 FER2013
// emotions.

#include <torch/torch.h>

#include "config/train_config.hpp"

namespace fer::kernels {
class InferenceCnn;
}

namespace fer {

class FerNetImpl : public torch::nn::Module {
 public:
  FerNetImpl(const ModelConfig& config, int input_side);

  // images [B, 1, S, S] normalised -> logits [B, 7]
  torch::Tensor forward(torch::Tensor images);

  // Training on CPU: run the CNN stages on the fused kernels (src/kernels) when this
  // build has them and the shape suits them (channels multiples of 8, one input
  // channel). Evaluation, CUDA and other shapes use LibTorch's layers; both compute the
  // same function with the same parameters. bf16_convolutions: the fused path's
  // convolutions in bfloat16 with float accumulation (kernels/onednn_conv.hpp; the
  // caller has checked kernels::bf16_unavailable_reason()).
  void use_fused_cpu_kernels(bool enable, bool bf16_convolutions = false) {
    fused_cpu_kernels_ = enable;
    bf16_convolutions_ = enable && bf16_convolutions;
  }
  // Whether this build and this model's shape allow the fused path at all.
  bool fused_cpu_kernels_possible() const { return fused_shape_ok_; }
  bool fused_cpu_kernels_apply(const torch::Tensor& images) const;

  // Inference on CPU: each BatchNorm folded into its convolution, the CNN stages on the
  // inference kernels (kernels/inference_cnn.hpp; in f32 the logits equal LibTorch's
  // layers' within 1e-5, tested; bf16 is about twice as fast where the CPU has
  // AVX512-BF16). For a model that no longer changes, such as a loaded checkpoint: the
  // values are copied now, and only evaluation mode uses them. False (nothing changes)
  // when this build or this model's shape cannot; throws std::invalid_argument for
  // bf16 on a CPU without it.
  bool use_inference_kernels(InferencePrecision precision = InferencePrecision::kF32);
  void drop_inference_kernels() { inference_.reset(); }

  // Sequence length and per-step feature size the RNN sees for this input size.
  std::int64_t sequence_length() const { return sequence_length_; }
  std::int64_t step_features() const { return step_features_; }

 private:
  torch::Tensor to_sequence(const torch::Tensor& features) const;
  torch::Tensor fused_cnn_forward(const torch::Tensor& images);

  // The CNN as the fused path walks it: each conv with its BatchNorm, each stage's pool.
  struct ConvLayer {
    torch::nn::Conv2d conv;
    torch::nn::BatchNorm2d norm;
  };
  struct Stage {
    std::vector<ConvLayer> layers;
  };
  std::vector<Stage> stages_;
  bool fused_shape_ok_ = false;
  bool fused_cpu_kernels_ = false;
  bool bf16_convolutions_ = false;
  std::shared_ptr<fer::kernels::InferenceCnn> inference_;

  ModelConfig config_;
  torch::nn::Sequential cnn_{nullptr};
  torch::nn::LSTM lstm_{nullptr};
  torch::nn::GRU gru_{nullptr};
  torch::nn::Linear attention_{nullptr};
  torch::nn::Dropout head_dropout_{nullptr};
  torch::nn::Linear head_{nullptr};
  std::int64_t sequence_length_ = 0;
  std::int64_t step_features_ = 0;
};
TORCH_MODULE(FerNet);

std::int64_t parameter_count(torch::nn::Module& module);

}  // namespace fer
