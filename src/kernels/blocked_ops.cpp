#include "kernels/blocked_ops.hpp"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>  // at::NoGradGuard (not reached through Parallel.h in 2.x)

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/onednn_conv.hpp"

// The loops below run over the 8 channels of a block innermost; compiled once for AVX2
// and once for the baseline, chosen at load time (ifunc), so the binary still runs on
// any x86-64.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FER_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define FER_VECTOR_CLONES
#endif

namespace fer::kernels {
namespace {

constexpr int kLanes = static_cast<int>(kChannelBlock);

struct BlockedShape {
  std::int64_t batch, blocks, height, width;
  std::int64_t plane() const { return height * width * kLanes; }  // floats per (n, block)
  std::int64_t per_channel() const { return batch * height * width; }
};

BlockedShape blocked_shape(const at::Tensor& t, const char* what) {
  if (t.dim() != 5 || t.size(4) != kChannelBlock || t.scalar_type() != at::kFloat ||
      !t.is_contiguous() || !t.device().is_cpu())
    throw std::invalid_argument(std::string("blocked kernel: ") + what +
                                " must be a contiguous float CPU tensor [N, C/8, H, W, 8]");
  return {t.size(0), t.size(1), t.size(2), t.size(3)};
}

// --- batch norm + ReLU -------------------------------------------------------------

// One channel block = 8 floats = one AVX2 register. GCC's vector extensions keep one
// source for both clones (AVX2: one ymm; baseline: two xmm).
typedef float Lanes __attribute__((vector_size(32)));
typedef int LaneMask __attribute__((vector_size(32)));
typedef double WideLanes __attribute__((vector_size(64)));
typedef std::int8_t ByteLanes __attribute__((vector_size(8)));

[[gnu::always_inline]] inline Lanes load(const float* p) {
  Lanes v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
[[gnu::always_inline]] inline void store(float* p, Lanes v) {
  __builtin_memcpy(p, &v, sizeof v);
}
[[gnu::always_inline]] inline void store_wide(double* p, WideLanes v) {
  __builtin_memcpy(p, &v, sizeof v);
}
[[gnu::always_inline]] inline WideLanes widen(Lanes v) {
  return __builtin_convertvector(v, WideLanes);
}

// Per-lane sums of x and x^2 over one channel block: all images, all positions.
FER_VECTOR_CLONES
void block_moments(const float* data, const BlockedShape& s, std::int64_t block, double* sum,
                   double* square_sum) {
  WideLanes acc = {}, acc2 = {};
  for (std::int64_t n = 0; n < s.batch; ++n) {
    const float* plane = data + (n * s.blocks + block) * s.plane();
    // Float partials per row keep the inner loop in registers; rows are short (<= 48
    // positions), so the float sums lose nothing that matters before they go to double.
    for (std::int64_t y = 0; y < s.height; ++y) {
      Lanes row = {}, row2 = {};
      const float* p = plane + y * s.width * kLanes;
      for (std::int64_t x = 0; x < s.width; ++x) {
        const Lanes v = load(p + x * kLanes);
        row += v;
        row2 += v * v;
      }
      acc += widen(row);
      acc2 += widen(row2);
    }
  }
  store_wide(sum, acc);
  store_wide(square_sum, acc2);
}

FER_VECTOR_CLONES
void scale_shift_relu(const float* in, float* out, std::int64_t positions, const float* scale,
                      const float* shift) {
  const Lanes a = load(scale), b = load(shift), zero = {};
  for (std::int64_t i = 0; i < positions; ++i) {
    const Lanes v = load(in + i * kLanes) * a + b;
    store(out + i * kLanes, v > zero ? v : zero);
  }
}

// Per-lane sums of g and g * (x - mean) where the ReLU let the gradient through.
FER_VECTOR_CLONES
void block_gradient_sums(const float* grad, const float* in, const BlockedShape& s,
                         std::int64_t block, const float* scale, const float* shift,
                         const float* mean, double* grad_sum, double* grad_dot) {
  const Lanes a = load(scale), b = load(shift), m = load(mean), zero = {};
  WideLanes acc = {}, dot = {};
  for (std::int64_t n = 0; n < s.batch; ++n) {
    const std::int64_t offset = (n * s.blocks + block) * s.plane();
    for (std::int64_t y = 0; y < s.height; ++y) {
      Lanes row = {}, row_dot = {};
      const float* g = grad + offset + y * s.width * kLanes;
      const float* x = in + offset + y * s.width * kLanes;
      for (std::int64_t i = 0; i < s.width; ++i) {
        const Lanes v = load(x + i * kLanes);
        const Lanes passed = v * a + b > zero ? load(g + i * kLanes) : zero;
        row += passed;
        row_dot += passed * (v - m);
      }
      acc += widen(row);
      dot += widen(row_dot);
    }
  }
  store_wide(grad_sum, acc);
  store_wide(grad_dot, dot);
}

FER_VECTOR_CLONES
void batch_norm_relu_input_gradient(const float* grad, const float* in, float* out,
                                    std::int64_t positions, const float* scale, const float* shift,
                                    const float* mean, const float* gain, const float* offset,
                                    const float* slope) {
  const Lanes a = load(scale), b = load(shift), m = load(mean), k = load(gain), c = load(offset),
              d = load(slope), zero = {};
  for (std::int64_t i = 0; i < positions; ++i) {
    const Lanes v = load(in + i * kLanes);
    const Lanes passed = v * a + b > zero ? load(grad + i * kLanes) : zero;
    store(out + i * kLanes, k * passed + c + d * (v - m));
  }
}

// Every (image, block) plane once, split among the intra-op threads.
template <typename PlaneFn>
void for_each_plane(const BlockedShape& s, PlaneFn fn) {
  at::parallel_for(0, s.batch * s.blocks, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t k = begin; k < end; ++k) fn(k / s.blocks, k % s.blocks);
  });
}

// --- max pool ----------------------------------------------------------------------

FER_VECTOR_CLONES
void max_pool_plane(const float* in, float* out, std::uint8_t* argmax, std::int64_t in_width,
                    std::int64_t out_height, std::int64_t out_width, const float* scale) {
  const Lanes channel_scale = load(scale);
  for (std::int64_t oy = 0; oy < out_height; ++oy)
    for (std::int64_t ox = 0; ox < out_width; ++ox) {
      const float* top = in + ((2 * oy) * in_width + 2 * ox) * kLanes;
      const float* bottom = top + in_width * kLanes;
      const float* window[4] = {top, top + kLanes, bottom, bottom + kLanes};
      Lanes best = load(window[0]);
      LaneMask which = {};
      for (int k = 1; k < 4; ++k) {
        const Lanes v = load(window[k]);
        // The first maximum wins, and NaN propagates, as in LibTorch's max_pool2d.
        const LaneMask take = (v > best) | (v != v);
        best = take ? v : best;
        which = take ? LaneMask{} + k : which;
      }
      const std::int64_t o = (oy * out_width + ox) * kLanes;
      store(out + o, best * channel_scale);
      const ByteLanes bytes = __builtin_convertvector(which, ByteLanes);
      __builtin_memcpy(argmax + o, &bytes, sizeof bytes);
    }
}

// Writes all four inputs of every window (the winner gets the gradient, the others 0),
// so the input gradient needs no zero fill first.
FER_VECTOR_CLONES
void max_pool_plane_backward(const float* grad, const std::uint8_t* argmax, float* in_grad,
                             std::int64_t in_width, std::int64_t out_height, std::int64_t out_width,
                             const float* scale) {
  const Lanes channel_scale = load(scale), zero = {};
  for (std::int64_t oy = 0; oy < out_height; ++oy)
    for (std::int64_t ox = 0; ox < out_width; ++ox) {
      const std::int64_t o = (oy * out_width + ox) * kLanes;
      ByteLanes bytes;
      __builtin_memcpy(&bytes, argmax + o, sizeof bytes);
      const LaneMask which = __builtin_convertvector(bytes, LaneMask);
      const Lanes g = load(grad + o) * channel_scale;
      float* top = in_grad + ((2 * oy) * in_width + 2 * ox) * kLanes;
      float* bottom = top + in_width * kLanes;
      float* window[4] = {top, top + kLanes, bottom, bottom + kLanes};
      for (int k = 0; k < 4; ++k) store(window[k], which == k ? g : zero);
    }
}

// Sum over images and positions of image(y+dy-1, x+dx-1) * grad(y, x) for the 9 taps
// and the 8 output channels of one block; zero padding outside the image.
FER_VECTOR_CLONES
void single_channel_tap_sums(const float* image, const float* grad, const BlockedShape& g,
                             std::int64_t block, double* taps /* [9][8] */) {
  WideLanes total[9] = {};
  const std::int64_t h = g.height, w = g.width;
  for (std::int64_t n = 0; n < g.batch; ++n) {
    const float* im = image + n * h * w;
    const float* gp = grad + (n * g.blocks + block) * g.plane();
    for (std::int64_t y = 0; y < h; ++y) {
      Lanes row[9] = {};
      for (std::int64_t x = 0; x < w; ++x) {
        const Lanes gv = load(gp + (y * w + x) * kLanes);
        for (int dy = 0; dy < 3; ++dy) {
          const std::int64_t yy = y + dy - 1;
          if (yy < 0 || yy >= h) continue;
          for (int dx = 0; dx < 3; ++dx) {
            const std::int64_t xx = x + dx - 1;
            if (xx < 0 || xx >= w) continue;
            row[dy * 3 + dx] += im[yy * w + xx] * gv;
          }
        }
      }
      for (int t = 0; t < 9; ++t) total[t] += widen(row[t]);
    }
  }
  for (int t = 0; t < 9; ++t) store_wide(taps + t * kLanes, total[t]);
}

// The 8 multipliers of one (image, block): the dropout scale, or ones without dropout.
const float* lane_scale(const at::Tensor& channel_scale, std::int64_t n, std::int64_t block,
                        std::int64_t channels) {
  static constexpr float kOnes[kLanes] = {1, 1, 1, 1, 1, 1, 1, 1};
  if (!channel_scale.defined()) return kOnes;
  return channel_scale.data_ptr<float>() + n * channels + block * kLanes;
}

void check_channel_scale(const at::Tensor& scale, const BlockedShape& s) {
  if (scale.defined() &&
      (scale.dim() != 2 || scale.size(0) != s.batch || scale.size(1) != s.blocks * kLanes ||
       scale.scalar_type() != at::kFloat || !scale.is_contiguous()))
    throw std::invalid_argument("max pool: channel scale must be a contiguous float [N, C]");
}

}  // namespace

BatchNormReluResult batch_norm_relu_forward(const at::Tensor& input, const at::Tensor& gamma,
                                            const at::Tensor& beta, at::Tensor running_mean,
                                            at::Tensor running_var, double momentum, double eps) {
  const BlockedShape s = blocked_shape(input, "batch norm input");
  const std::int64_t channels = s.blocks * kLanes, count = s.per_channel();
  if (count < 2)
    throw std::invalid_argument("batch norm: training needs more than one value per channel");
  auto sums = at::empty({channels}, input.options().dtype(at::kDouble));
  auto square_sums = at::empty_like(sums);
  const float* in = input.data_ptr<float>();
  at::parallel_for(0, s.blocks, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t b = begin; b < end; ++b)
      block_moments(in, s, b, sums.data_ptr<double>() + b * kLanes,
                    square_sums.data_ptr<double>() + b * kLanes);
  });

  BatchNormReluResult result;
  result.mean = at::empty({channels}, input.options());
  result.invstd = at::empty({channels}, input.options());
  auto scale = at::empty({channels}, input.options()), shift = at::empty_like(scale);
  {
    at::NoGradGuard no_grad;
    auto gamma_c = gamma.contiguous(), beta_c = beta.contiguous();
    auto rm = running_mean.accessor<float, 1>(), rv = running_var.accessor<float, 1>();
    for (std::int64_t c = 0; c < channels; ++c) {
      const double mean = sums.data_ptr<double>()[c] / count;
      const double variance =
          std::max(0.0, square_sums.data_ptr<double>()[c] / count - mean * mean);
      const double invstd = 1.0 / std::sqrt(variance + eps);
      result.mean.data_ptr<float>()[c] = static_cast<float>(mean);
      result.invstd.data_ptr<float>()[c] = static_cast<float>(invstd);
      const double sc = gamma_c.data_ptr<float>()[c] * invstd;
      scale.data_ptr<float>()[c] = static_cast<float>(sc);
      shift.data_ptr<float>()[c] = static_cast<float>(beta_c.data_ptr<float>()[c] - mean * sc);
      rm[c] = static_cast<float>((1 - momentum) * rm[c] + momentum * mean);
      rv[c] =
          static_cast<float>((1 - momentum) * rv[c] + momentum * variance * count / (count - 1));
    }
  }
  result.output = at::empty_like(input);
  float* out = result.output.data_ptr<float>();
  for_each_plane(s, [&](std::int64_t n, std::int64_t b) {
    const std::int64_t offset = (n * s.blocks + b) * s.plane();
    scale_shift_relu(in + offset, out + offset, s.height * s.width,
                     scale.data_ptr<float>() + b * kLanes, shift.data_ptr<float>() + b * kLanes);
  });
  return result;
}

BatchNormReluGradients batch_norm_relu_backward(const at::Tensor& grad_output,
                                                const at::Tensor& input, const at::Tensor& gamma,
                                                const at::Tensor& beta, const at::Tensor& mean,
                                                const at::Tensor& invstd) {
  const BlockedShape s = blocked_shape(input, "batch norm input");
  blocked_shape(grad_output, "batch norm output gradient");
  const std::int64_t channels = s.blocks * kLanes;
  const double count = static_cast<double>(s.per_channel());
  auto gamma_c = gamma.contiguous(), beta_c = beta.contiguous();
  // The forward's scale and shift, recomputed: the ReLU mask is taken from the input
  // rather than kept from the forward, so the output of a stage's last layer need not
  // stay alive until backward.
  auto scale = gamma_c * invstd;
  auto shift = beta_c - mean * scale;
  auto grad_sums = at::empty({channels}, input.options().dtype(at::kDouble));
  auto grad_dots = at::empty_like(grad_sums);
  const float* g = grad_output.data_ptr<float>();
  const float* in = input.data_ptr<float>();
  at::parallel_for(0, s.blocks, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t b = begin; b < end; ++b)
      block_gradient_sums(g, in, s, b, scale.data_ptr<float>() + b * kLanes,
                          shift.data_ptr<float>() + b * kLanes, mean.data_ptr<float>() + b * kLanes,
                          grad_sums.data_ptr<double>() + b * kLanes,
                          grad_dots.data_ptr<double>() + b * kLanes);
  });

  BatchNormReluGradients gradients;
  gradients.beta = grad_sums.to(at::kFloat);
  gradients.gamma = (grad_dots * invstd.to(at::kDouble)).to(at::kFloat);
  // d input = gamma * invstd * (g' - mean(g') - xhat * mean(g' * xhat)), g' the gradient
  // that passed the ReLU, xhat = (x - mean) * invstd: gain * g' + offset + slope * (x - mean).
  auto gain = scale;
  auto offset = (-(gain.to(at::kDouble) * grad_sums) / count).to(at::kFloat);
  auto slope =
      (-(gain.to(at::kDouble) * invstd.to(at::kDouble) * gradients.gamma.to(at::kDouble)) / count)
          .to(at::kFloat);
  gradients.input = at::empty_like(input);
  float* out = gradients.input.data_ptr<float>();
  for_each_plane(s, [&](std::int64_t n, std::int64_t b) {
    const std::int64_t o = (n * s.blocks + b) * s.plane();
    const std::int64_t lane = b * kLanes;
    batch_norm_relu_input_gradient(g + o, in + o, out + o, s.height * s.width,
                                   scale.data_ptr<float>() + lane, shift.data_ptr<float>() + lane,
                                   mean.data_ptr<float>() + lane, gain.data_ptr<float>() + lane,
                                   offset.data_ptr<float>() + lane, slope.data_ptr<float>() + lane);
  });
  return gradients;
}

MaxPoolResult max_pool2x2_forward(const at::Tensor& input, const at::Tensor& channel_scale) {
  const BlockedShape s = blocked_shape(input, "max pool input");
  check_channel_scale(channel_scale, s);
  const std::int64_t out_h = s.height / 2, out_w = s.width / 2;
  if (out_h < 1 || out_w < 1) throw std::invalid_argument("max pool: input smaller than 2x2");
  MaxPoolResult result;
  result.output = at::empty({s.batch, s.blocks, out_h, out_w, kChannelBlock}, input.options());
  result.argmax = at::empty(result.output.sizes(), input.options().dtype(at::kByte));
  const float* in = input.data_ptr<float>();
  float* out = result.output.data_ptr<float>();
  std::uint8_t* argmax = result.argmax.data_ptr<std::uint8_t>();
  const std::int64_t out_plane = out_h * out_w * kLanes;
  for_each_plane(s, [&](std::int64_t n, std::int64_t b) {
    const std::int64_t k = n * s.blocks + b;
    max_pool_plane(in + k * s.plane(), out + k * out_plane, argmax + k * out_plane, s.width, out_h,
                   out_w, lane_scale(channel_scale, n, b, s.blocks * kLanes));
  });
  return result;
}

at::Tensor max_pool2x2_backward(const at::Tensor& grad_output, const at::Tensor& argmax,
                                const at::Tensor& channel_scale, at::IntArrayRef input_sizes) {
  const BlockedShape s = blocked_shape(grad_output, "max pool output gradient");
  const std::int64_t in_h = input_sizes[2], in_w = input_sizes[3];
  // An odd height or width leaves a last row or column that no window covers.
  auto in_grad = in_h % 2 == 0 && in_w % 2 == 0 ? at::empty(input_sizes, grad_output.options())
                                                : at::zeros(input_sizes, grad_output.options());
  const float* g = grad_output.data_ptr<float>();
  const std::uint8_t* a = argmax.data_ptr<std::uint8_t>();
  float* out = in_grad.data_ptr<float>();
  const std::int64_t in_plane = in_h * in_w * kLanes;
  for_each_plane(s, [&](std::int64_t n, std::int64_t b) {
    const std::int64_t k = n * s.blocks + b;
    max_pool_plane_backward(g + k * s.plane(), a + k * s.plane(), out + k * in_plane, in_w,
                            s.height, s.width, lane_scale(channel_scale, n, b, s.blocks * kLanes));
  });
  return in_grad;
}

at::Tensor single_channel_weight_gradient(const at::Tensor& image, const at::Tensor& grad_output) {
  const BlockedShape g = blocked_shape(grad_output, "convolution output gradient");
  if (image.dim() != 4 || image.size(1) != 1 || image.size(0) != g.batch ||
      image.size(2) != g.height || image.size(3) != g.width || !image.is_contiguous() ||
      image.scalar_type() != at::kFloat)
    throw std::invalid_argument("weight gradient: image must be a contiguous float [N, 1, H, W]");
  auto taps = at::empty({g.blocks, 9, kChannelBlock}, image.options().dtype(at::kDouble));
  at::parallel_for(0, g.blocks, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t b = begin; b < end; ++b)
      single_channel_tap_sums(image.data_ptr<float>(), grad_output.data_ptr<float>(), g, b,
                              taps.data_ptr<double>() + b * 9 * kLanes);
  });
  // [blocks, tap, lane] -> [blocks * lane, 1, 3, 3]
  return taps.permute({0, 2, 1}).reshape({g.blocks * kChannelBlock, 1, 3, 3}).to(at::kFloat);
}

at::Tensor blocked_to_nchw(const at::Tensor& blocked) {
  const auto n = blocked.size(0), blocks = blocked.size(1), h = blocked.size(2),
             w = blocked.size(3);
  return blocked.permute({0, 1, 4, 2, 3}).reshape({n, blocks * kChannelBlock, h, w});
}

}  // namespace fer::kernels
