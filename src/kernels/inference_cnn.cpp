#include "kernels/inference_cnn.hpp"

#include <stdexcept>

#ifdef FER_HAVE_ONEDNN
#include <cstdio>
#include <map>
#include <mutex>

#include "kernels/onednn_engine.hpp"
#endif

namespace fer::kernels {

#ifdef FER_HAVE_ONEDNN
namespace {

using Tag = dnnl::memory::format_tag;
using DataType = dnnl::memory::data_type;

const dnnl::memory::dims kConvStrides{1, 1}, kConvPadding{1, 1};
const dnnl::memory::dims kPoolWindow{2, 2}, kNoPadding{0, 0};

std::string isa_name(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41:
      return "sse41";
    case dnnl::cpu_isa::avx:
      return "avx";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    default:
      break;
  }
  char hex[32];
  std::snprintf(hex, sizeof hex, "isa 0x%x", static_cast<unsigned>(isa));
  return hex;
}

// relu(conv(source, weights) + bias), forward_inference; oneDNN 3 dropped the operation
// descriptors (Debian 12 ships oneDNN 2.6, Debian 13 ships 3.7; both are supported).
dnnl::convolution_forward::primitive_desc conv_bias_relu(const dnnl::memory::desc& source,
                                                         const dnnl::memory::desc& weights,
                                                         const dnnl::memory::desc& bias,
                                                         const dnnl::memory::desc& destination) {
  dnnl::post_ops relu;
  dnnl::primitive_attr attributes;
#if DNNL_VERSION_MAJOR >= 3
  relu.append_eltwise(dnnl::algorithm::eltwise_relu, 0.f, 0.f);
  attributes.set_post_ops(relu);
  return {onednn_cpu_engine(),
          dnnl::prop_kind::forward_inference,
          dnnl::algorithm::convolution_direct,
          source,
          weights,
          bias,
          destination,
          kConvStrides,
          kConvPadding,
          kConvPadding,
          attributes};
#else
  relu.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
  attributes.set_post_ops(relu);
  return {dnnl::convolution_forward::desc(
              dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, source,
              weights, bias, destination, kConvStrides, kConvPadding, kConvPadding),
          attributes, onednn_cpu_engine()};
#endif
}

// 2x2 max-pool, stride 2, no padding (an odd last row or column is dropped, as in
// LibTorch's MaxPool2d(2)).
dnnl::pooling_forward::primitive_desc max_pool(const dnnl::memory::desc& source,
                                               const dnnl::memory::desc& destination) {
#if DNNL_VERSION_MAJOR >= 3
  return {onednn_cpu_engine(),
          dnnl::prop_kind::forward_inference,
          dnnl::algorithm::pooling_max,
          source,
          destination,
          kPoolWindow,
          kPoolWindow,
          kNoPadding,
          kNoPadding,
          kNoPadding};
#else
  return {dnnl::pooling_forward::desc(dnnl::prop_kind::forward_inference,
                                      dnnl::algorithm::pooling_max, source, destination,
                                      kPoolWindow, kPoolWindow, kNoPadding, kNoPadding),
          onednn_cpu_engine()};
#endif
}

// oneDNN's ISA values are bit sets: a later ISA contains the bits of those it extends.
bool has_isa(dnnl::cpu_isa wanted) {
  const auto bits = static_cast<unsigned>(wanted);
  return (static_cast<unsigned>(dnnl::get_effective_cpu_isa()) & bits) == bits;
}

// The layout asked for activations of `channels`: oneDNN's own choice (nChw16c or NHWC
// on AVX-512 hosts, nChw8c on AVX2 ones), except for a width that is a multiple of 8 but
// not of 16 on an AVX-512 host, where that choice pads 8 channels to 16 and does twice
// the work (configs/tiny.yaml's 8-channel stage ran 1.35x slower): nChw8c there.
Tag activation_tag(std::int64_t channels, bool wide) {
  return wide && channels % 16 != 0 && channels % 8 == 0 ? Tag::nChw8c : Tag::any;
}

// oneDNN's reference kernels take any layout at a fraction of the speed; a layout that
// only they accept is not worth asking for.
bool is_reference(const dnnl::convolution_forward::primitive_desc& desc) {
  return std::string(desc.impl_info_str()).rfind("ref", 0) == 0;
}

dnnl::reorder make_reorder(const dnnl::memory::desc& from, const dnnl::memory::desc& to) {
  return dnnl::reorder(
      dnnl::reorder::primitive_desc(onednn_cpu_engine(), from, onednn_cpu_engine(), to));
}

}  // namespace

std::string bf16_unavailable_reason() {
  if (has_isa(dnnl::cpu_isa::avx512_core_bf16)) return {};
  return "this CPU has no native bf16 convolutions (oneDNN runs " +
         isa_name(dnnl::get_effective_cpu_isa()) +
         " code here; bf16 needs AVX512-BF16, e.g. AMD Zen 4 or Intel Cooper Lake and later)";
}

// One convolution with its folded values, and its weights in every layout a primitive
// asked for (one per batch-size class in practice; reordered once each).
struct FoldedConv {
  at::Tensor weight, bias;  // [O, I, 3, 3], [O] float
  dnnl::memory bias_memory;
  std::vector<std::pair<dnnl::memory::desc, dnnl::memory>> weights;
};

// One primitive of a batch size's chain: it reads the previous step's output (or the
// input images) and writes `destination`.
struct Step {
  enum class Kind { kReorder, kConv, kPool } kind;
  dnnl::primitive primitive;
  dnnl::memory::desc destination;
  dnnl::memory weights, bias;  // kConv
};

struct Plan {
  dnnl::memory::desc input, output;  // f32 NCHW images in, f32 NCHW features out
  std::vector<std::int64_t> output_sizes;
  std::vector<Step> steps;
  dnnl::reorder to_output;
  std::size_t largest = 0;  // bytes of the largest intermediate
};

struct InferenceCnn::Network {
  DataType type = DataType::f32;
  std::vector<std::vector<FoldedConv>> stages;
  std::mutex mutex;  // guards plans, the weights caches and the arena
  std::map<std::int64_t, std::unique_ptr<Plan>> plans;  // by batch size and input shape key
  // Two ping-pong buffers for the activations, shared by every plan (a forward call
  // holds the mutex), grown to the largest batch seen: no allocation per call.
  at::Tensor arena[2];

  dnnl::memory weights_for(FoldedConv& conv, const dnnl::memory::desc& wanted) {
    for (const auto& [layout, memory] : conv.weights)
      if (layout == wanted) return memory;
    const dnnl::memory::desc user(
        {conv.weight.size(0), conv.weight.size(1), conv.weight.size(2), conv.weight.size(3)},
        DataType::f32, Tag::oihw);
    dnnl::memory from(user, onednn_cpu_engine(), conv.weight.data_ptr());
    dnnl::memory to(wanted, onednn_cpu_engine());
    dnnl::stream stream(onednn_cpu_engine());
    make_reorder(user, wanted).execute(stream, from, to);
    stream.wait();
    conv.weights.emplace_back(wanted, to);
    return to;
  }

  std::unique_ptr<Plan> make_plan(std::int64_t batch, std::int64_t height, std::int64_t width) {
    auto plan = std::make_unique<Plan>();
    plan->input = dnnl::memory::desc({batch, 1, height, width}, DataType::f32, Tag::nchw);
    dnnl::memory::desc current = plan->input;
    auto add = [&](Step step) {
      plan->largest = std::max(plan->largest, step.destination.get_size());
      current = step.destination;
      plan->steps.push_back(std::move(step));
    };
    const bool wide = has_isa(dnnl::cpu_isa::avx512_core);
    std::int64_t channels = 1;
    for (std::vector<FoldedConv>& stage : stages) {
      for (FoldedConv& conv : stage) {
        const std::int64_t out_channels = conv.weight.size(0);
        const dnnl::memory::desc weights({out_channels, channels, 3, 3}, type, Tag::any);
        auto layer = [&](Tag in, Tag out) {
          return conv_bias_relu(
              dnnl::memory::desc({batch, channels, height, width}, type, in), weights,
              conv.bias_memory.get_desc(),
              dnnl::memory::desc({batch, out_channels, height, width}, type, out));
        };
        // The image comes in NCHW; later layers in the layout oneDNN prefers, except
        // that an 8-channel-wide layer asks for nChw8c first (see activation_tag).
        auto desc = layer(channels == 1 ? Tag::nchw : activation_tag(channels, wide),
                          activation_tag(out_channels, wide));
        if (is_reference(desc)) desc = layer(channels == 1 ? Tag::nchw : Tag::any, Tag::any);
        if (desc.src_desc() != current)
          add({Step::Kind::kReorder,
               make_reorder(current, desc.src_desc()),
               desc.src_desc(),
               {},
               {}});
        add({Step::Kind::kConv, dnnl::convolution_forward(desc), desc.dst_desc(),
             weights_for(conv, desc.weights_desc()), conv.bias_memory});
        channels = out_channels;
      }
      height /= 2;
      width /= 2;
      // The pool writes the layout it reads.
      const auto desc =
          max_pool(current, dnnl::memory::desc({batch, channels, height, width}, type, Tag::any));
      add({Step::Kind::kPool, dnnl::pooling_forward(desc), desc.dst_desc(), {}, {}});
    }
    plan->output_sizes = {batch, channels, height, width};
    plan->output = dnnl::memory::desc(plan->output_sizes, DataType::f32, Tag::nchw);
    plan->to_output = make_reorder(current, plan->output);
    return plan;
  }
};

InferenceCnn::InferenceCnn(const std::vector<Layers>& stages, InferencePrecision precision)
    : precision_(precision), network_(std::make_unique<Network>()) {
  if (precision == InferencePrecision::kBf16) {
    if (const std::string reason = bf16_unavailable_reason(); !reason.empty())
      throw std::invalid_argument(reason);
    network_->type = DataType::bf16;
  }
  torch::NoGradGuard no_grad;
  for (const Layers& layers : stages) {
    std::vector<FoldedConv> folded;
    for (const auto& [conv, norm] : layers) {
      if (conv->options.bias() || !norm->options.affine() || !norm->options.track_running_stats())
        throw std::invalid_argument(
            "inference kernels: need conv without bias and affine BatchNorm with running "
            "statistics");
      // In double, so that folding adds no rounding of its own beyond the final float.
      const torch::Tensor scale =
          norm->weight.to(torch::kDouble) /
          (norm->running_var.to(torch::kDouble) + norm->options.eps()).sqrt();
      FoldedConv layer;
      layer.weight = (conv->weight.to(torch::kDouble) * scale.view({-1, 1, 1, 1}))
                         .to(torch::kFloat)
                         .contiguous();
      layer.bias = (norm->bias.to(torch::kDouble) - norm->running_mean.to(torch::kDouble) * scale)
                       .to(torch::kFloat)
                       .contiguous();
      layer.bias_memory =
          dnnl::memory(dnnl::memory::desc({layer.bias.size(0)}, DataType::f32, Tag::x),
                       onednn_cpu_engine(), layer.bias.data_ptr());
      folded.push_back(std::move(layer));
    }
    network_->stages.push_back(std::move(folded));
  }
}

InferenceCnn::~InferenceCnn() = default;

torch::Tensor InferenceCnn::forward(const torch::Tensor& images) {
  if (images.dim() != 4 || images.size(1) != 1 || images.scalar_type() != torch::kFloat ||
      !images.device().is_cpu())
    throw std::invalid_argument(
        "inference kernels: images must be a float CPU tensor [N, 1, H, W]");
  const torch::Tensor input = images.contiguous();
  const std::int64_t batch = input.size(0), height = input.size(2), width = input.size(3);
  Network& net = *network_;
  std::lock_guard<std::mutex> lock(net.mutex);
  // Heights and widths of faces are small (the model's input side), so one key holds all.
  auto& plan = net.plans[(batch << 24) | (height << 12) | width];
  if (!plan) plan = net.make_plan(batch, height, width);
  for (at::Tensor& buffer : net.arena)
    if (!buffer.defined() || static_cast<std::size_t>(buffer.numel()) < plan->largest)
      buffer =
          at::empty({static_cast<std::int64_t>(plan->largest)}, input.options().dtype(at::kByte));

  const dnnl::engine& engine = onednn_cpu_engine();
  dnnl::stream stream(engine);
  dnnl::memory source(plan->input, engine, input.data_ptr());
  int next = 0;
  for (const Step& step : plan->steps) {
    dnnl::memory destination(step.destination, engine, net.arena[next].data_ptr());
    switch (step.kind) {
      case Step::Kind::kReorder:
        step.primitive.execute(stream, {{DNNL_ARG_FROM, source}, {DNNL_ARG_TO, destination}});
        break;
      case Step::Kind::kConv:
        step.primitive.execute(stream, {{DNNL_ARG_SRC, source},
                                        {DNNL_ARG_WEIGHTS, step.weights},
                                        {DNNL_ARG_BIAS, step.bias},
                                        {DNNL_ARG_DST, destination}});
        break;
      case Step::Kind::kPool:
        step.primitive.execute(stream, {{DNNL_ARG_SRC, source}, {DNNL_ARG_DST, destination}});
        break;
    }
    source = destination;
    next ^= 1;
  }
  torch::Tensor features = torch::empty(plan->output_sizes, input.options());
  dnnl::memory output(plan->output, engine, features.data_ptr());
  plan->to_output.execute(stream, {{DNNL_ARG_FROM, source}, {DNNL_ARG_TO, output}});
  stream.wait();
  return features;
}

#else  // built without oneDNN

std::string bf16_unavailable_reason() {
  return "this build has no oneDNN (install libdnnl-dev and rebuild)";
}

struct InferenceCnn::Network {};

InferenceCnn::InferenceCnn(const std::vector<Layers>&, InferencePrecision precision)
    : precision_(precision) {
  throw std::logic_error("inference kernels: this build has no oneDNN (install libdnnl-dev)");
}
InferenceCnn::~InferenceCnn() = default;
torch::Tensor InferenceCnn::forward(const torch::Tensor&) {
  throw std::logic_error("inference kernels: this build has no oneDNN (install libdnnl-dev)");
}

#endif

}  // namespace fer::kernels
