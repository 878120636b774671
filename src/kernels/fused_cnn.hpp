#pragma once
// The CNN stages of the model in training mode on the fused CPU kernels: conv3x3 ->
// BatchNorm -> ReLU as one autograd node, 2x2 max-pool -> Dropout2d as another, with
// activations kept in oneDNN's blocked layout in between (onednn_conv.hpp,
// blocked_ops.hpp). The modules' own parameters and buffers are used as they are, so
// checkpoints, optimisers and gradient hooks see no difference.
//
// Measured on the reference model (configs/bench.yaml) by tests/bench/bench_train.sh.

#include <torch/torch.h>

#include <utility>
#include <vector>

#include "kernels/onednn_conv.hpp"

namespace fer::kernels {

// False when the project was built without oneDNN's headers (then every call throws).
bool fused_kernels_built();

// x: [N, 1, H, W] image batch or a blocked activation; returns the blocked
// relu(batch_norm(conv(x))) with batch statistics, updating the running statistics and
// num_batches_tracked as BatchNorm2d does in training. bf16_convolution: the
// convolution (forward and both gradients) in ConvArithmetic::kBf16 (onednn_conv.hpp);
// the caller has checked bf16_unavailable_reason().
torch::Tensor fused_conv_bn_relu(const torch::Tensor& x, torch::nn::Conv2dImpl& conv,
                                 torch::nn::BatchNorm2dImpl& norm, bool bf16_convolution = false);

// Blocked 2x2/stride-2 max-pool, then Dropout2d(dropout) (a whole channel of an image
// zeroed with probability `dropout`, the rest scaled by 1/(1-dropout)) when dropout > 0.
torch::Tensor fused_max_pool_dropout(const torch::Tensor& x, double dropout);

// Blocked [N, C/8, H, W, 8] -> [N, C, H, W] (contiguous copy, differentiable).
torch::Tensor fused_to_nchw(const torch::Tensor& blocked);

// Inference: kernels/inference_cnn.hpp.

}  // namespace fer::kernels
