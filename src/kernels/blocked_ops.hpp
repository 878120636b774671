#pragma once
// Training-time kernels on blocked activations [N, C/8, H, W, 8] (see onednn_conv.hpp):
// BatchNorm with batch statistics fused with the ReLU after it, and 2x2 max-pooling
// fused with channel dropout (Dropout2d).
//
// Why fused: these layers are memory-bound. Separately, LibTorch's batch norm reads its
// input three times and writes it once, the ReLU reads and writes it again, and their
// backward passes do the same; fused, the forward reads the convolution's output twice
// (statistics, then normalise + ReLU) and the backward reads it twice. The 8 channels of
// a block are the 8 lanes of one AVX2 register, so per-channel work vectorises.
//
// Results equal LibTorch's BatchNorm2d(training) -> ReLU -> MaxPool2d(2) -> Dropout2d
// within float rounding (tests/torch: fused_kernels_test.cpp).

#include <ATen/ATen.h>

namespace fer::kernels {

struct BatchNormReluResult {
  at::Tensor output;  // relu(batch_norm(input)), blocked
  at::Tensor mean;    // [C] batch mean
  at::Tensor invstd;  // [C] 1 / sqrt(biased batch variance + eps)
};

// Updates running_mean / running_var in place (momentum; unbiased variance), as
// BatchNorm2d does in training.
BatchNormReluResult batch_norm_relu_forward(const at::Tensor& input, const at::Tensor& gamma,
                                            const at::Tensor& beta, at::Tensor running_mean,
                                            at::Tensor running_var, double momentum, double eps);

struct BatchNormReluGradients {
  at::Tensor input, gamma, beta;
};
BatchNormReluGradients batch_norm_relu_backward(const at::Tensor& grad_output,
                                                const at::Tensor& input, const at::Tensor& gamma,
                                                const at::Tensor& beta, const at::Tensor& mean,
                                                const at::Tensor& invstd);

struct MaxPoolResult {
  at::Tensor output;  // [N, C/8, H/2, W/2, 8]
  at::Tensor argmax;  // uint8, same shape: which of the 4 inputs won (row-major in the window)
};
// channel_scale: [N, C] multipliers (Dropout2d: 0 or 1/(1-p)), or undefined for none.
MaxPoolResult max_pool2x2_forward(const at::Tensor& input, const at::Tensor& channel_scale);
at::Tensor max_pool2x2_backward(const at::Tensor& grad_output, const at::Tensor& argmax,
                                const at::Tensor& channel_scale, at::IntArrayRef input_sizes);

// Weight gradient of a 3x3 convolution (padding 1) of a single-channel image
// [N, 1, H, W] given the blocked output gradient [N, O/8, H, W, 8]: [O, 1, 3, 3].
at::Tensor single_channel_weight_gradient(const at::Tensor& image, const at::Tensor& grad_output);

// Layout conversion at the end of the CNN: blocked [N, C/8, H, W, 8] -> a contiguous
// [N, C, H, W] copy, through autograd (permute + reshape).
at::Tensor blocked_to_nchw(const at::Tensor& blocked);

}  // namespace fer::kernels
