#include "kernels/fused_cnn.hpp"

#include <stdexcept>

#ifdef FER_HAVE_ONEDNN
#include "kernels/blocked_ops.hpp"
#include "kernels/onednn_conv.hpp"
#endif

namespace fer::kernels {

#ifdef FER_HAVE_ONEDNN
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class ConvBatchNormRelu : public torch::autograd::Function<ConvBatchNormRelu> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& gamma,
                               const torch::Tensor& beta, torch::Tensor running_mean,
                               torch::Tensor running_var, double momentum, double eps,
                               bool bf16_convolution) {
    const ConvArithmetic arithmetic =
        bf16_convolution ? ConvArithmetic::kBf16 : ConvArithmetic::kF32;
    Conv3x3Forward conv = conv3x3_forward(x, weight, arithmetic);
    BatchNormReluResult normed =
        batch_norm_relu_forward(conv.output, gamma, beta, running_mean, running_var, momentum, eps);
    ctx->save_for_backward(
        {conv.saved_input, weight, gamma, beta, conv.output, normed.mean, normed.invstd});
    ctx->saved_data["input_gradient"] = x.requires_grad();
    ctx->saved_data["bf16"] = bf16_convolution;
    return normed.output;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &saved_input = saved[0], &weight = saved[1], &gamma = saved[2], &beta = saved[3],
               &conv_out = saved[4], &mean = saved[5], &invstd = saved[6];
    BatchNormReluGradients norm_grads =
        batch_norm_relu_backward(grads[0].contiguous(), conv_out, gamma, beta, mean, invstd);
    Conv3x3Gradients conv_grads = conv3x3_backward(
        saved_input, weight, norm_grads.input, ctx->saved_data["input_gradient"].toBool(),
        ctx->saved_data["bf16"].toBool() ? ConvArithmetic::kBf16 : ConvArithmetic::kF32);
    return {conv_grads.input, conv_grads.weight, norm_grads.gamma, norm_grads.beta, torch::Tensor(),
            torch::Tensor(),  torch::Tensor(),   torch::Tensor(),  torch::Tensor()};
  }
};

torch::Tensor scale_or_none(const torch::Tensor& channel_scale) {
  return channel_scale.numel() > 0 ? channel_scale : torch::Tensor();
}

class MaxPoolDropout : public torch::autograd::Function<MaxPoolDropout> {
 public:
  // channel_scale: [N, C], or empty for no dropout (autograd inputs must be defined).
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& channel_scale) {
    MaxPoolResult pooled = max_pool2x2_forward(x, scale_or_none(channel_scale));
    ctx->save_for_backward({pooled.argmax, channel_scale});
    ctx->saved_data["input_sizes"] = x.sizes();
    return pooled.output;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto sizes = ctx->saved_data["input_sizes"].toIntVector();
    return {max_pool2x2_backward(grads[0].contiguous(), saved[0], scale_or_none(saved[1]), sizes),
            torch::Tensor()};
  }
};

}  // namespace

bool fused_kernels_built() {
  return true;
}

torch::Tensor fused_conv_bn_relu(const torch::Tensor& x, torch::nn::Conv2dImpl& conv,
                                 torch::nn::BatchNorm2dImpl& norm, bool bf16_convolution) {
  const auto& options = norm.options;
  if (!options.affine() || !options.track_running_stats() || conv.options.bias())
    throw std::invalid_argument(
        "fused kernels: need conv without bias and affine BatchNorm with running statistics");
  {
    torch::NoGradGuard no_grad;
    norm.num_batches_tracked.add_(1);
  }
  // momentum unset: a cumulative average, as BatchNorm2d does.
  const double momentum = options.momentum().has_value()
                              ? *options.momentum()
                              : 1.0 / static_cast<double>(norm.num_batches_tracked.item<long>());
  return ConvBatchNormRelu::apply(x.contiguous(), conv.weight, norm.weight, norm.bias,
                                  norm.running_mean, norm.running_var, momentum, options.eps(),
                                  bf16_convolution);
}

torch::Tensor fused_max_pool_dropout(const torch::Tensor& x, double dropout) {
  torch::Tensor channel_scale = torch::empty({0}, x.options());
  if (dropout > 0) {
    // Drawn from LibTorch's default generator like Dropout2d, so seeded runs and resumed
    // runs stay reproducible.
    channel_scale = torch::empty({x.size(0), x.size(1) * x.size(4)}, x.options())
                        .bernoulli_(1 - dropout)
                        .div_(1 - dropout);
  }
  return MaxPoolDropout::apply(x, channel_scale);
}

torch::Tensor fused_to_nchw(const torch::Tensor& blocked) {
  return blocked_to_nchw(blocked);
}

#else  // built without oneDNN

bool fused_kernels_built() {
  return false;
}

namespace {
[[noreturn]] void not_built() {
  throw std::logic_error("fused CPU kernels: this build has no oneDNN (install libdnnl-dev)");
}
}  // namespace

torch::Tensor fused_conv_bn_relu(const torch::Tensor&, torch::nn::Conv2dImpl&,
                                 torch::nn::BatchNorm2dImpl&, bool) {
  not_built();
}
torch::Tensor fused_max_pool_dropout(const torch::Tensor&, double) {
  not_built();
}
torch::Tensor fused_to_nchw(const torch::Tensor&) {
  not_built();
}
#endif

}  // namespace fer::kernels
