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
  bool bf16;
  bool operator<(const ConvShape& o) const {
    return std::tie(batch, in_channels, out_channels, height, width, bf16) <
           std::tie(o.batch, o.in_channels, o.out_channels, o.height, o.width, o.bf16);
  }
};

// The three primitives of one convolution shape, built once: oneDNN chooses its kernel
// (and the layouts it wants) when a primitive is created, which costs far more than
// running it on a small layer.
struct ConvPrimitives {
  // The callers' layouts: float blocked activations (or the NCHW image), OIHW weights.
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
  // f32 runs in the callers' layouts, so activations are never reordered. bf16 takes the
  // layouts oneDNN picks for its bf16 kernels (nChw16c or NHWC): the conversion to
  // bfloat16 on the way in is a reorder anyway, and it changes the layout in the same pass.
  const DataType low = s.bf16 ? DataType::bf16 : DataType::f32;
  const auto chosen = [&](const dnnl::memory::dims& dims, DataType type,
                          const dnnl::memory::desc& user) {
    return s.bf16 ? dnnl::memory::desc(dims, type, Tag::any) : user;
  };
  const dnnl::memory::desc any_weights(weight_dims, low, Tag::any);
  const dnnl::memory::desc any_diff_weights(weight_dims, DataType::f32, Tag::any);

  p.forward_desc = make_forward_desc(chosen(source_dims, low, p.source), any_weights,
                                     chosen(destination_dims, DataType::f32, p.destination));
  p.forward = dnnl::convolution_forward(p.forward_desc);
  // A single-channel input (the image) needs no input gradient, and oneDNN has no fast
  // weight-gradient kernel for it (it pads the channel to 8 and runs ~7x below its
  // other layers): blocked_ops.hpp single_channel_weight_gradient does that one.
  if (!blocked_source) return p;
  p.backward_data_desc = make_backward_desc<dnnl::convolution_backward_data>(
      chosen(source_dims, DataType::f32, p.source), any_weights,
      chosen(destination_dims, low, p.destination), p.forward_desc);
  p.backward_data = dnnl::convolution_backward_data(p.backward_data_desc);
  p.backward_weights_desc = make_backward_desc<dnnl::convolution_backward_weights>(
      chosen(source_dims, low, p.source), any_diff_weights,
      chosen(destination_dims, low, p.destination), p.forward_desc);
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

void check_weight(const at::Tensor& weight, std::int64_t in_channels) {
  if (weight.dim() != 4 || weight.size(2) != 3 || weight.size(3) != 3 ||
      weight.size(0) % kChannelBlock != 0 || weight.size(1) != in_channels)
    throw std::invalid_argument(
        "oneDNN convolution: weight must be [O, I, 3, 3] with O a multiple of 8 and I the "
        "input's channels");
}

// bf16 applies to blocked inputs; the image's convolution stays f32 (see the header).
ConvShape make_shape(std::int64_t batch, const at::Tensor& weight, std::int64_t height,
                     std::int64_t width, ConvArithmetic arithmetic) {
  const std::int64_t in_channels = weight.size(1);
  return {batch,          in_channels,
          weight.size(0), height,
          width,          arithmetic == ConvArithmetic::kBf16 && in_channels % kChannelBlock == 0};
}

// A byte buffer the size of `desc`, to back a oneDNN memory of that description.
at::Tensor storage_for(const dnnl::memory::desc& desc) {
  return at::empty({static_cast<std::int64_t>(desc.get_size())}, at::TensorOptions(at::kByte));
}

// `from` in the layout and type a primitive wants: `from` itself when they agree, else
// a converted copy held by `storage`.
dnnl::memory as_wanted(dnnl::memory from, const dnnl::memory::desc& wanted, dnnl::stream& stream,
                       at::Tensor& storage) {
  if (from.get_desc() == wanted) return from;
  storage = storage_for(wanted);
  dnnl::memory converted(wanted, onednn_cpu_engine(), storage.data_ptr());
  dnnl::reorder(from, converted).execute(stream, from, converted);
  return converted;
}

// A result a primitive computes in its own layout (`computed`) and the caller wants in
// `user`: the same memory when the layouts agree, else scratch reordered by deliver().
class Result {
 public:
  Result(const dnnl::memory::desc& computed_desc, dnnl::memory user) : user_(std::move(user)) {
    if (computed_desc == user_.get_desc()) {
      computed_ = user_;
    } else {
      storage_ = storage_for(computed_desc);
      computed_ = dnnl::memory(computed_desc, onednn_cpu_engine(), storage_.data_ptr());
    }
  }
  const dnnl::memory& computed() const { return computed_; }
  void deliver(dnnl::stream& stream) {
    if (storage_.defined()) dnnl::reorder(computed_, user_).execute(stream, computed_, user_);
  }

 private:
  dnnl::memory user_, computed_;
  at::Tensor storage_;
};

at::Tensor blocked_float(std::int64_t batch, std::int64_t channels, std::int64_t height,
                         std::int64_t width) {
  return at::empty({batch, channels / kChannelBlock, height, width, kChannelBlock},
                   at::TensorOptions(at::kFloat));
}

}  // namespace

std::int64_t activation_channels(const at::Tensor& activation) {
  return activation.dim() == 5 ? activation.size(1) * activation.size(4) : activation.size(1);
}

Conv3x3Forward conv3x3_forward(const at::Tensor& input, const at::Tensor& weight,
                               ConvArithmetic arithmetic) {
  check_activation(input, "input");
  check_weight(weight, activation_channels(input));
  // H and W are dimensions 2 and 3 in both layouts.
  const ConvShape shape =
      make_shape(input.size(0), weight, input.size(2), input.size(3), arithmetic);
  const ConvPrimitives& p = primitives_for(shape);
  dnnl::stream stream(onednn_cpu_engine());
  const at::Tensor user_weight = weight.contiguous();
  at::Tensor weight_storage, source_storage;
  const dnnl::memory weights =
      as_wanted(dnnl::memory(p.user_weights, onednn_cpu_engine(), user_weight.data_ptr()),
                p.forward_desc.weights_desc(), stream, weight_storage);
  const dnnl::memory source =
      as_wanted(dnnl::memory(p.source, onednn_cpu_engine(), input.data_ptr()),
                p.forward_desc.src_desc(), stream, source_storage);
  Conv3x3Forward result;
  result.output = blocked_float(shape.batch, shape.out_channels, shape.height, shape.width);
  Result destination(p.forward_desc.dst_desc(),
                     dnnl::memory(p.destination, onednn_cpu_engine(), result.output.data_ptr()));
  p.forward.execute(stream, {{DNNL_ARG_SRC, source},
                             {DNNL_ARG_WEIGHTS, weights},
                             {DNNL_ARG_DST, destination.computed()}});
  destination.deliver(stream);
  stream.wait();
  result.saved_input = source_storage.defined() ? source_storage : input;
  return result;
}

Conv3x3Gradients conv3x3_backward(const at::Tensor& saved_input, const at::Tensor& weight,
                                  const at::Tensor& grad_output, bool input_gradient,
                                  ConvArithmetic arithmetic) {
  check_activation(grad_output, "output gradient");
  check_weight(weight, weight.size(1));
  const ConvShape shape =
      make_shape(grad_output.size(0), weight, grad_output.size(2), grad_output.size(3), arithmetic);
  const ConvPrimitives& p = primitives_for(shape);
  const dnnl::memory::desc saved_desc = p.forward_desc.src_desc();
  bool saved_matches = false;
  if (shape.bf16) {
    saved_matches = saved_input.scalar_type() == at::kByte &&
                    static_cast<std::size_t>(saved_input.numel()) == saved_desc.get_size();
  } else {
    check_activation(saved_input, "input");
    saved_matches = activation_channels(saved_input) == shape.in_channels;
  }
  if (!saved_matches)
    throw std::invalid_argument(
        "oneDNN convolution: the saved input is not conv3x3_forward's for this weight, batch "
        "and arithmetic");
  dnnl::stream stream(onednn_cpu_engine());
  Conv3x3Gradients gradients;
  const dnnl::memory user_diff_destination(p.destination, onednn_cpu_engine(),
                                           grad_output.data_ptr());
  // The output gradient in bfloat16 once, when both backward primitives want one layout.
  at::Tensor diff_storage[2];
  dnnl::memory converted_diff;
  const auto diff_destination_as = [&](const dnnl::memory::desc& wanted, int slot) {
    if (converted_diff && converted_diff.get_desc() == wanted) return converted_diff;
    converted_diff = as_wanted(user_diff_destination, wanted, stream, diff_storage[slot]);
    return converted_diff;
  };
  const at::Tensor user_weight = weight.contiguous();
  if (input_gradient) {
    if (!p.backward_data)
      throw std::invalid_argument(
          "oneDNN convolution: no input gradient for a single-channel input");
    at::Tensor weight_storage;
    const dnnl::memory weights =
        as_wanted(dnnl::memory(p.user_weights, onednn_cpu_engine(), user_weight.data_ptr()),
                  p.backward_data_desc.weights_desc(), stream, weight_storage);
    gradients.input = blocked_float(shape.batch, shape.in_channels, shape.height, shape.width);
    Result diff_source(p.backward_data_desc.diff_src_desc(),
                       dnnl::memory(p.source, onednn_cpu_engine(), gradients.input.data_ptr()));
    p.backward_data.execute(
        stream, {{DNNL_ARG_DIFF_DST, diff_destination_as(p.backward_data_desc.diff_dst_desc(), 0)},
                 {DNNL_ARG_WEIGHTS, weights},
                 {DNNL_ARG_DIFF_SRC, diff_source.computed()}});
    diff_source.deliver(stream);
  }
  if (!p.backward_weights) {
    gradients.weight = single_channel_weight_gradient(saved_input, grad_output);
    stream.wait();
    return gradients;
  }
  at::Tensor source_storage;
  const dnnl::memory source =
      as_wanted(dnnl::memory(saved_desc, onednn_cpu_engine(), saved_input.data_ptr()),
                p.backward_weights_desc.src_desc(), stream, source_storage);
  gradients.weight = at::empty(weight.sizes(), weight.options());
  Result diff_weights(
      p.backward_weights_desc.diff_weights_desc(),
      dnnl::memory(p.user_weights, onednn_cpu_engine(), gradients.weight.data_ptr()));
  p.backward_weights.execute(
      stream, {{DNNL_ARG_SRC, source},
               {DNNL_ARG_DIFF_DST, diff_destination_as(p.backward_weights_desc.diff_dst_desc(), 1)},
               {DNNL_ARG_DIFF_WEIGHTS, diff_weights.computed()}});
  diff_weights.deliver(stream);
  stream.wait();
  return gradients;
}

}  // namespace fer::kernels
