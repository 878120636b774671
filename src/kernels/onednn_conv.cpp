#include "kernels/onednn_conv.hpp"

#include "kernels/blocked_ops.hpp"
#include "kernels/onednn_engine.hpp"

#include <dnnl.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <vector>

namespace fer::kernels {

dnnl::engine& onednn_cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

namespace {

using Tag = dnnl::memory::format_tag;
using DataType = dnnl::memory::data_type;

struct ConvShape {
  std::int64_t batch, in_channels, out_channels, height, width;
  bool operator<(const ConvShape& o) const {
    return std::tie(batch, in_channels, out_channels, height, width) <
           std::tie(o.batch, o.in_channels, o.out_channels, o.height, o.width);
  }
};

// The three primitives of one convolution shape, built once: oneDNN chooses its kernel
// (and the weights' layout it wants) when a primitive is created, which costs far more
// than running it on a small layer.
struct ConvPrimitives {
  dnnl::memory::desc source, destination, user_weights;
  dnnl::convolution_forward::primitive_desc forward_desc;
  dnnl::convolution_forward forward;
  dnnl::convolution_backward_data::primitive_desc backward_data_desc;
  dnnl::convolution_backward_data backward_data;
  dnnl::convolution_backward_weights::primitive_desc backward_weights_desc;
  dnnl::convolution_backward_weights backward_weights;
};

// 3x3 convolutions with stride 1 and padding 1 (the only shape the model uses).
const dnnl::memory::dims kStrides{1, 1}, kPadding{1, 1};

// oneDNN 3 dropped the operation descriptors (convolution_forward::desc and friends):
// a primitive descriptor is built from the engine and the arguments directly. Debian 12
// ships oneDNN 2.6, Debian 13 ships 3.7; both are supported.
dnnl::convolution_forward::primitive_desc make_forward_desc(const dnnl::memory::desc& source,
                                                            const dnnl::memory::desc& weights,
                                                            const dnnl::memory::desc& destination) {
#if DNNL_VERSION_MAJOR >= 3
  return {onednn_cpu_engine(),
          dnnl::prop_kind::forward_training,
          dnnl::algorithm::convolution_direct,
          source,
          weights,
          destination,
          kStrides,
          kPadding,
          kPadding};
#else
  return {dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
                                          dnnl::algorithm::convolution_direct, source, weights,
                                          destination, kStrides, kPadding, kPadding),
          onednn_cpu_engine()};
#endif
}

// The two backward primitives (data, weights) take the same arguments in the same order.
template <typename Backward>
typename Backward::primitive_desc make_backward_desc(
    const dnnl::memory::desc& source, const dnnl::memory::desc& weights,
    const dnnl::memory::desc& destination,
    const dnnl::convolution_forward::primitive_desc& forward) {
#if DNNL_VERSION_MAJOR >= 3
  return {onednn_cpu_engine(),
          dnnl::algorithm::convolution_direct,
          source,
          weights,
          destination,
          kStrides,
          kPadding,
          kPadding,
          forward};
#else
  return {typename Backward::desc(dnnl::algorithm::convolution_direct, source, weights, destination,
                                  kStrides, kPadding, kPadding),
          onednn_cpu_engine(), forward};
#endif
}

ConvPrimitives make_primitives(const ConvShape& s) {
  const dnnl::memory::dims source_dims{s.batch, s.in_channels, s.height, s.width};
  const dnnl::memory::dims destination_dims{s.batch, s.out_channels, s.height, s.width};
  const dnnl::memory::dims weight_dims{s.out_channels, s.in_channels, 3, 3};
  ConvPrimitives p;
  const bool blocked_source = s.in_channels % kChannelBlock == 0;
  p.source =
      dnnl::memory::desc(source_dims, DataType::f32, blocked_source ? Tag::nChw8c : Tag::nchw);
  p.destination = dnnl::memory::desc(destination_dims, DataType::f32, Tag::nChw8c);
  p.user_weights = dnnl::memory::desc(weight_dims, DataType::f32, Tag::oihw);
  const dnnl::memory::desc any_weights(weight_dims, DataType::f32, Tag::any);

  p.forward_desc = make_forward_desc(p.source, any_weights, p.destination);
  p.forward = dnnl::convolution_forward(p.forward_desc);
  // A single-channel input (the image) needs no input gradient, and oneDNN has no fast
  // weight-gradient kernel for it (it pads the channel to 8 and runs ~7x below its
  // other layers): blocked_ops.hpp single_channel_weight_gradient does that one.
  if (!blocked_source) return p;
  p.backward_data_desc = make_backward_desc<dnnl::convolution_backward_data>(
      p.source, any_weights, p.destination, p.forward_desc);
  p.backward_data = dnnl::convolution_backward_data(p.backward_data_desc);
  p.backward_weights_desc = make_backward_desc<dnnl::convolution_backward_weights>(
      p.source, any_weights, p.destination, p.forward_desc);
  p.backward_weights = dnnl::convolution_backward_weights(p.backward_weights_desc);
  return p;
}

const ConvPrimitives& primitives_for(const ConvShape& shape) {
  static std::mutex mutex;
  static std::map<ConvShape, std::unique_ptr<ConvPrimitives>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = cache[shape];
  if (!slot) slot = std::make_unique<ConvPrimitives>(make_primitives(shape));
  return *slot;
}

void check_activation(const at::Tensor& t, const char* what) {
  const bool blocked = t.dim() == 5 && t.size(4) == kChannelBlock;
  const bool single_channel = t.dim() == 4 && t.size(1) == 1;
  if (!(blocked || single_channel) || t.scalar_type() != at::kFloat || !t.is_contiguous() ||
      !t.device().is_cpu())
    throw std::invalid_argument(std::string("oneDNN convolution: ") + what +
                                " must be a contiguous float CPU tensor [N, C/8, H, W, 8] or "
                                "[N, 1, H, W]; got sizes " +
                                std::to_string(t.dim()) + "-d");
}

ConvShape shape_of(const at::Tensor& input, const at::Tensor& weight) {
  check_activation(input, "input");
  if (weight.dim() != 4 || weight.size(2) != 3 || weight.size(3) != 3 ||
      weight.size(0) % kChannelBlock != 0 || weight.size(1) != activation_channels(input))
    throw std::invalid_argument(
        "oneDNN convolution: weight must be [O, I, 3, 3] with O a multiple of 8 and I the "
        "input's channels");
  // H and W are dimensions 2 and 3 in both layouts.
  return {input.size(0), weight.size(1), weight.size(0), input.size(2), input.size(3)};
}

// The weights in the layout a primitive asked for (a small reorder: <0.2 ms per layer).
dnnl::memory weights_as(const dnnl::memory::desc& wanted, const ConvPrimitives& p,
                        const at::Tensor& weight, dnnl::stream& stream, at::Tensor& storage) {
  auto contiguous = weight.contiguous();
  dnnl::memory user(p.user_weights, onednn_cpu_engine(), contiguous.data_ptr());
  if (wanted == p.user_weights) {
    storage = contiguous;
    return user;
  }
  storage =
      at::empty({static_cast<std::int64_t>(wanted.get_size() / sizeof(float))}, weight.options());
  dnnl::memory converted(wanted, onednn_cpu_engine(), storage.data_ptr());
  dnnl::reorder(user, converted).execute(stream, user, converted);
  return converted;
}

}  // namespace

std::int64_t activation_channels(const at::Tensor& activation) {
  return activation.dim() == 5 ? activation.size(1) * activation.size(4) : activation.size(1);
}

at::Tensor conv3x3_forward(const at::Tensor& input, const at::Tensor& weight) {
  const ConvShape shape = shape_of(input, weight);
  const ConvPrimitives& p = primitives_for(shape);
  dnnl::stream stream(onednn_cpu_engine());
  at::Tensor weight_storage;
  dnnl::memory weights =
      weights_as(p.forward_desc.weights_desc(), p, weight, stream, weight_storage);
  at::Tensor output = at::empty(
      {shape.batch, shape.out_channels / kChannelBlock, shape.height, shape.width, kChannelBlock},
      input.options());
  dnnl::memory source(p.source, onednn_cpu_engine(), input.data_ptr());
  dnnl::memory destination(p.destination, onednn_cpu_engine(), output.data_ptr());
  p.forward.execute(
      stream, {{DNNL_ARG_SRC, source}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, destination}});
  stream.wait();
  return output;
}

Conv3x3Gradients conv3x3_backward(const at::Tensor& input, const at::Tensor& weight,
                                  const at::Tensor& grad_output, bool input_gradient) {
  const ConvShape shape = shape_of(input, weight);
  check_activation(grad_output, "output gradient");
  const ConvPrimitives& p = primitives_for(shape);
  dnnl::stream stream(onednn_cpu_engine());
  Conv3x3Gradients gradients;
  dnnl::memory diff_destination(p.destination, onednn_cpu_engine(), grad_output.data_ptr());
  if (input_gradient) {
    if (!p.backward_data)
      throw std::invalid_argument(
          "oneDNN convolution: no input gradient for a single-channel input");
    at::Tensor weight_storage;
    dnnl::memory weights =
        weights_as(p.backward_data_desc.weights_desc(), p, weight, stream, weight_storage);
    gradients.input = at::empty_like(input);
    dnnl::memory diff_source(p.source, onednn_cpu_engine(), gradients.input.data_ptr());
    p.backward_data.execute(stream, {{DNNL_ARG_DIFF_DST, diff_destination},
                                     {DNNL_ARG_WEIGHTS, weights},
                                     {DNNL_ARG_DIFF_SRC, diff_source}});
  }
  if (!p.backward_weights) {
    gradients.weight = single_channel_weight_gradient(input, grad_output);
    stream.wait();
    return gradients;
  }
  dnnl::memory source(p.source, onednn_cpu_engine(), input.data_ptr());
  gradients.weight = at::empty(weight.sizes(), weight.options());
  dnnl::memory user_diff_weights(p.user_weights, onednn_cpu_engine(), gradients.weight.data_ptr());
  const auto wanted = p.backward_weights_desc.diff_weights_desc();
  at::Tensor blocked_storage;
  dnnl::memory diff_weights = user_diff_weights;
  if (wanted != p.user_weights) {
    blocked_storage =
        at::empty({static_cast<std::int64_t>(wanted.get_size() / sizeof(float))}, weight.options());
    diff_weights = dnnl::memory(wanted, onednn_cpu_engine(), blocked_storage.data_ptr());
  }
  p.backward_weights.execute(stream, {{DNNL_ARG_SRC, source},
                                      {DNNL_ARG_DIFF_DST, diff_destination},
                                      {DNNL_ARG_DIFF_WEIGHTS, diff_weights}});
  if (wanted != p.user_weights)
    dnnl::reorder(diff_weights, user_diff_weights).execute(stream, diff_weights, user_diff_weights);
  stream.wait();
  return gradients;
}

}  // namespace fer::kernels
