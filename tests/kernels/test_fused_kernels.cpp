// The fused CPU training kernels (src/kernels) against LibTorch's own layers: the same
// parameters give the same outputs, gradients and running statistics.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>

#include "config/train_config.hpp"
#include "kernels/bf16_support.hpp"
#include "kernels/blocked_ops.hpp"
#include "kernels/fused_cnn.hpp"
#include "model/fer_net.hpp"

namespace fer {
namespace {

#define SKIP_WITHOUT_FUSED_KERNELS() \
  if (!kernels::fused_kernels_built()) GTEST_SKIP() << "built without oneDNN (libdnnl-dev)"

ModelConfig small_model(std::vector<int> channels, double cnn_dropout) {
  ModelConfig config;
  config.channels = std::move(channels);
  config.cnn_dropout = cnn_dropout;
  config.head_dropout = 0;
  config.rnn_hidden = 16;
  return config;
}

// [N, C, H, W] -> blocked [N, C/8, H, W, 8]
torch::Tensor to_blocked(const torch::Tensor& nchw) {
  const auto n = nchw.size(0), c = nchw.size(1), h = nchw.size(2), w = nchw.size(3);
  return nchw.reshape({n, c / 8, 8, h, w}).permute({0, 1, 3, 4, 2}).contiguous();
}

// How near the fused path must come to LibTorch's layers: the largest |a - b| relative
// to b's largest magnitude, and the cosine similarity of a and b as vectors.
struct Closeness {
  double max_relative_error;
  double min_cosine;
};
constexpr Closeness kF32{2e-4, 0.99999};

// Returns the relative error, so that a caller can also demand a difference.
double expect_close(const torch::Tensor& a, const torch::Tensor& b, const std::string& what,
                    Closeness closeness = kF32) {
  EXPECT_EQ(a.sizes(), b.sizes()) << what;
  if (a.sizes() != b.sizes()) return 1;
  const double scale = std::max(1e-3, b.abs().max().item<double>());
  const double error = (a - b).abs().max().item<double>();
  const double cosine =
      torch::cosine_similarity(a.flatten().to(torch::kDouble), b.flatten().to(torch::kDouble), 0)
          .item<double>();
  EXPECT_LT(error / scale, closeness.max_relative_error)
      << what << ": max |difference| " << error << " at scale " << scale;
  EXPECT_GE(cosine, closeness.min_cosine) << what << ": cosine similarity";
  return error / scale;
}

// bf16 rounds each convolution's inputs to 8 significant bits (accumulating in float):
// the forward stays within a few per cent, but the backward through small-batch
// BatchNorm subtracts nearly equal terms, so gradients are judged by direction.
struct PathCloseness {
  Closeness logits, gradients, buffers;
};
constexpr PathCloseness kF32Path{kF32, kF32, kF32};
// Measured on Zen 4 (avx512_bf16): logits within 1.5% and cosine 0.99995; gradient
// cosines 0.973 and above; running statistics within 0.4%.
constexpr PathCloseness kBf16Path{{3e-2, 0.9999}, {1e9, 0.95}, {1e-2, 0.9999}};

// One training step's forward and backward of two copies of a model, one on each path.
// bf16: the fused path's convolutions in bfloat16 (float accumulation), held to
// kBf16Path, and required to differ from f32 (so that bf16 really ran).
void compare_paths(const ModelConfig& config, int side, int batch, bool bf16 = false) {
  const PathCloseness closeness = bf16 ? kBf16Path : kF32Path;
  torch::manual_seed(7);
  FerNet fused(config, side), reference(config, side);
  {
    torch::NoGradGuard no_grad;
    auto target = reference->named_parameters();
    for (const auto& p : fused->named_parameters()) target[p.key()].copy_(p.value());
    auto buffers = reference->named_buffers();
    for (const auto& b : fused->named_buffers()) buffers[b.key()].copy_(b.value());
  }
  fused->use_fused_cpu_kernels(true, bf16);
  reference->use_fused_cpu_kernels(false);
  fused->train();
  reference->train();
  const torch::Tensor images = torch::randn({batch, 1, side, side});
  ASSERT_TRUE(fused->fused_cpu_kernels_apply(images));
  ASSERT_FALSE(reference->fused_cpu_kernels_apply(images));
  const torch::Tensor labels = torch::randint(0, 7, {batch});
  const torch::Tensor logits_fused = fused->forward(images);
  const torch::Tensor logits_reference = reference->forward(images);
  const double logit_error =
      expect_close(logits_fused, logits_reference, "logits", closeness.logits);
  if (bf16) {
    EXPECT_GT(logit_error, 1e-6) << "bf16 logits equal f32's: bf16 did not run";
  }
  torch::nn::functional::cross_entropy(logits_fused, labels).backward();
  torch::nn::functional::cross_entropy(logits_reference, labels).backward();
  auto reference_parameters = reference->named_parameters();
  for (const auto& p : fused->named_parameters())
    expect_close(p.value().grad(), reference_parameters[p.key()].grad(), "gradient of " + p.key(),
                 closeness.gradients);
  auto reference_buffers = reference->named_buffers();
  for (const auto& b : fused->named_buffers()) {
    if (b.value().scalar_type() == torch::kLong)
      EXPECT_TRUE(b.value().equal(reference_buffers[b.key()])) << b.key();
    else
      expect_close(b.value(), reference_buffers[b.key()], "buffer " + b.key(), closeness.buffers);
  }
}

TEST(FusedKernels, TrainingStepMatchesLibTorchLayers) {
  SKIP_WITHOUT_FUSED_KERNELS();
  compare_paths(small_model({8, 16, 32}, 0.0), 48, 6);
}

TEST(FusedKernels, OddFeatureMapsAndLargerChannelsMatch) {
  SKIP_WITHOUT_FUSED_KERNELS();
  // 44 -> 22 -> 11 -> 5: the last pool drops a row and a column, as MaxPool2d does.
  compare_paths(small_model({32, 64, 128}, 0.0), 44, 3);
}

TEST(FusedKernels, Bf16ConvolutionsStayCloseToLibTorchLayers) {
  SKIP_WITHOUT_FUSED_KERNELS();
  if (const std::string reason = kernels::bf16_unavailable_reason(); !reason.empty())
    GTEST_SKIP() << reason;
  compare_paths(small_model({8, 16, 32}, 0.0), 48, 64, /*bf16=*/true);
  compare_paths(small_model({32, 64, 128}, 0.0), 44, 3, /*bf16=*/true);
}

TEST(FusedKernels, ShapesTheKernelsDoNotCoverUseLibTorchLayers) {
  FerNet odd_channels(small_model({12, 24}, 0.0), 48);
  odd_channels->use_fused_cpu_kernels(true);
  odd_channels->train();
  const torch::Tensor images = torch::randn({2, 1, 48, 48});
  EXPECT_FALSE(odd_channels->fused_cpu_kernels_possible());
  EXPECT_FALSE(odd_channels->fused_cpu_kernels_apply(images));
  EXPECT_EQ(odd_channels->forward(images).sizes(), (std::vector<std::int64_t>{2, 7}));

  FerNet model(small_model({8, 16}, 0.0), 48);
  model->use_fused_cpu_kernels(true);
  model->eval();  // evaluation always runs LibTorch's layers (running statistics)
  EXPECT_FALSE(model->fused_cpu_kernels_apply(images));
  model->train();
  torch::NoGradGuard no_grad;
  EXPECT_FALSE(model->fused_cpu_kernels_apply(images));
}

TEST(FusedKernels, MaxPoolTiesAndNaNFollowLibTorch) {
  SKIP_WITHOUT_FUSED_KERNELS();
  // Ties: the first maximum of the window (row-major) takes the gradient; NaN wins.
  torch::Tensor x = torch::zeros({1, 8, 4, 4});
  x.select(1, 3).fill_(2.0);
  x.index_put_({0, 5, 1, 1}, std::numeric_limits<float>::quiet_NaN());
  x.index_put_({0, 6, 3, 2}, 5.0);
  const torch::Tensor reference = x.clone().requires_grad_(true);
  const torch::Tensor pooled = torch::max_pool2d(reference, 2);
  const torch::Tensor grad = torch::rand(pooled.sizes());
  pooled.backward(grad);

  kernels::MaxPoolResult fused = kernels::max_pool2x2_forward(to_blocked(x), torch::Tensor());
  const torch::Tensor fused_out = kernels::blocked_to_nchw(fused.output);
  EXPECT_TRUE(fused_out.isnan().equal(pooled.isnan()));
  EXPECT_TRUE(torch::nan_to_num(fused_out).equal(torch::nan_to_num(pooled.detach())));
  const torch::Tensor fused_grad = kernels::blocked_to_nchw(kernels::max_pool2x2_backward(
      to_blocked(grad), fused.argmax, torch::Tensor(), to_blocked(x).sizes()));
  EXPECT_TRUE(fused_grad.equal(reference.grad()));
}

TEST(FusedKernels, ChannelDropoutZeroesWholeChannelsAndScalesTheRest) {
  SKIP_WITHOUT_FUSED_KERNELS();
  torch::manual_seed(3);
  const torch::Tensor x = torch::ones({16, 4, 8, 8, 8}).requires_grad_(true);
  const torch::Tensor y = kernels::fused_max_pool_dropout(x, 0.25);
  y.sum().backward();
  const torch::Tensor per_channel = kernels::blocked_to_nchw(y.detach()).flatten(2);  // [N, C, HW]
  const torch::Tensor kept = per_channel.amax(2) > 0;
  // Every channel of every image is all 0 or all 1/(1-p).
  EXPECT_TRUE(per_channel.amin(2).eq(per_channel.amax(2)).all().item<bool>());
  EXPECT_NEAR(per_channel.amax(2).masked_select(kept).mean().item<double>(), 1 / 0.75, 1e-6);
  const double dropped = 1 - kept.to(torch::kFloat).mean().item<double>();
  EXPECT_GT(dropped, 0.15);  // 512 channels, p = 0.25: 5 standard deviations either side
  EXPECT_LT(dropped, 0.35);
  // The gradient reaches only the kept channels, scaled the same way.
  const torch::Tensor grad = kernels::blocked_to_nchw(x.grad()).flatten(2);
  EXPECT_TRUE(grad.amax(2).gt(0).equal(kept));
}

TEST(FusedKernels, BatchNormNeedsMoreThanOneValuePerChannel) {
  SKIP_WITHOUT_FUSED_KERNELS();
  const torch::Tensor one = torch::ones({1, 1, 1, 1, 8});
  EXPECT_THROW(kernels::batch_norm_relu_forward(one, torch::ones({8}), torch::zeros({8}),
                                                torch::zeros({8}), torch::ones({8}), 0.1, 1e-5),
               std::invalid_argument);
}

}  // namespace
}  // namespace fer
