#pragma once
// 3x3 convolutions (stride 1, padding 1, no bias) called straight into oneDNN on
// activations that stay in its blocked layout between layers.
//
// Why: LibTorch's CPU convolution takes and returns NCHW, so every call reorders its
// input, output and gradients into oneDNN's blocked layout (nChw8c on AVX2) and back:
// ~35 reorders per training step of the reference model, ~5% of the step. Keeping the
// CNN's activations blocked from the first convolution to the end of the last stage
// removes them; the batch-norm, ReLU and pooling kernels next door (blocked_ops.hpp)
// read the same layout.
//
// Layouts: a *blocked* activation is a contiguous float tensor [N, C/8, H, W, 8]
// (oneDNN's nChw8c); the network's input image [N, 1, H, W] is taken as it is.
// Weights stay LibTorch parameters [O, I, 3, 3]; gradients come back in that shape.

#include <ATen/ATen.h>

namespace fer::kernels {

constexpr std::int64_t kChannelBlock = 8;  // oneDNN's AVX2 blocking: 8 floats = 1 ymm

// Channels of an activation in either accepted layout.
std::int64_t activation_channels(const at::Tensor& activation);

// The arithmetic of a convolution. kBf16: inputs, weights and output gradients rounded
// to bfloat16, products accumulated in float, results (output, gradients) in float; the
// BatchNorm, ReLU and pooling around it stay float. A convolution of the single-channel
// image stays f32 either way (it is 0.3% of the reference model's work). Callers check
// bf16_unavailable_reason() (bf16_support.hpp) first: without native bf16, oneDNN runs
// it on reference kernels, far slower than f32.
enum class ConvArithmetic { kF32, kBf16 };

struct Conv3x3Forward {
  at::Tensor output;  // blocked [N, O/8, H, W, 8] float
  // What conv3x3_backward needs of the input: the input itself (f32), or its bfloat16
  // copy in the layout oneDNN chose (half the memory of the float input, and no second
  // conversion in the backward pass).
  at::Tensor saved_input;
};

// input: blocked, or [N, 1, H, W]; weight [O, I, 3, 3] with O a multiple of 8.
Conv3x3Forward conv3x3_forward(const at::Tensor& input, const at::Tensor& weight,
                               ConvArithmetic arithmetic = ConvArithmetic::kF32);

struct Conv3x3Gradients {
  at::Tensor input;   // undefined unless asked for; same layout as the input
  at::Tensor weight;  // [O, I, 3, 3]
};
// saved_input: conv3x3_forward's, with the same weight and arithmetic; grad_output
// blocked float.
Conv3x3Gradients conv3x3_backward(const at::Tensor& saved_input, const at::Tensor& weight,
                                  const at::Tensor& grad_output, bool input_gradient,
                                  ConvArithmetic arithmetic = ConvArithmetic::kF32);

}  // namespace fer::kernels
