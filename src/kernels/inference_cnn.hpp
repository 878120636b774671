#pragma once
// The CNN stages for inference (evaluation mode, no autograd) as one chain of oneDNN
// primitives per batch size: each conv with its BatchNorm's running statistics folded
// into its weights and a bias
//   w' = w * gamma / sqrt(var + eps),  b = beta - mean * gamma / sqrt(var + eps)
// and ReLU as the convolution's post-op (one pass per layer instead of three), then
// oneDNN's 2x2 max-pool, with activations in the layout oneDNN chooses for this CPU.
//
// Why oneDNN chooses the layout: the training kernels keep activations in nChw8c (one
// AVX2 register per channel block, blocked_ops.hpp), but on an AVX-512 host oneDNN runs
// nChw8c convolutions on its AVX2 code: the 128-channel layers of configs/bench.yaml
// reach 139 GFLOP/s there against 251 in the layout it picks itself (2-core Zen 4,
// batch 256). Inference has no blocked_ops of its own to keep compatible, so it takes
// oneDNN's choice (except for 8-channel-wide layers, see inference_cnn.cpp), and the
// weights are reordered into it once.
//
// Precision: f32 equals LibTorch's layers within 1e-5 on the logits (tested); bf16 runs
// the convolutions on bfloat16 inputs and weights with float accumulation, about twice
// as fast where the CPU has AVX512-BF16, and stays within 3% of the logits' range (tested;
// 0.1% measured) with 99.7% of real PublicTest predictions equal to f32's.
// The layers' values are copied when it is built: it serves a model that no longer
// changes (a loaded checkpoint). Concurrent forward calls are safe: they take turns on
// one set of activation buffers (fer-serve's batcher and fer-eval call from one thread).

#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/choices.hpp"
#include "kernels/bf16_support.hpp"

namespace fer::kernels {

class InferenceCnn {
 public:
  using Layers = std::vector<std::pair<torch::nn::Conv2dImpl*, torch::nn::BatchNorm2dImpl*>>;
  // Each stage ends with a 2x2 pool. Throws std::invalid_argument for bf16 where
  // bf16_unavailable_reason() is not empty.
  InferenceCnn(const std::vector<Layers>& stages, InferencePrecision precision);
  ~InferenceCnn();
  InferenceCnn(const InferenceCnn&) = delete;
  InferenceCnn& operator=(const InferenceCnn&) = delete;

  // images [N, 1, H, W] float -> features [N, C, H / 2^stages, W / 2^stages] float (NCHW).
  torch::Tensor forward(const torch::Tensor& images);
  InferencePrecision precision() const { return precision_; }

 private:
  struct Network;
  InferencePrecision precision_;
  std::unique_ptr<Network> network_;
};

}  // namespace fer::kernels
