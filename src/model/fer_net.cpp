#include "model/fer_net.hpp"

#include "data/emotions.hpp"  // kNumEmotions (constants only: nothing to link)
#include "kernels/fused_cnn.hpp"
#include "kernels/inference_cnn.hpp"

namespace fer {
namespace nn = torch::nn;

FerNetImpl::FerNetImpl(const ModelConfig& config, int input_side) : config_(config) {
  nn::Sequential cnn;
  std::int64_t channels = 1, side = input_side;
  fused_shape_ok_ = fer::kernels::fused_kernels_built();
  for (int stage_channels : config.channels) {
    Stage stage;
    fused_shape_ok_ = fused_shape_ok_ && stage_channels % 8 == 0;
    for (int k = 0; k < config.convs_per_stage; ++k) {
      // No conv bias: the BatchNorm that follows has its own.
      nn::Conv2d conv(
          nn::Conv2dOptions(channels, stage_channels, /*kernel_size=*/3).padding(1).bias(false));
      nn::BatchNorm2d norm(stage_channels);
      stage.layers.push_back({conv, norm});
      cnn->push_back(conv);
      cnn->push_back(norm);
      cnn->push_back(nn::ReLU(nn::ReLUOptions().inplace(true)));
      channels = stage_channels;
    }
    cnn->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(2)));
    stages_.push_back(std::move(stage));
    side /= 2;
    if (config.cnn_dropout > 0) cnn->push_back(nn::Dropout2d(config.cnn_dropout));
  }
  if (side < 1)
    throw std::invalid_argument("model: " + std::to_string(config.channels.size()) +
                                " stages shrink a " + std::to_string(input_side) + "x" +
                                std::to_string(input_side) +
                                " input below 1x1; use fewer stages or a larger input");
  cnn_ = register_module("cnn", cnn);

  switch (config.sequence) {
    case SequenceLayout::kRows:
    case SequenceLayout::kColumns:  // square feature maps: a row and a column are alike
      sequence_length_ = side;
      step_features_ = channels * side;
      break;
    case SequenceLayout::kRaster:
      sequence_length_ = side * side;
      step_features_ = channels;
      break;
  }
  const double between_layers = config.rnn_layers > 1 ? config.rnn_dropout : 0.0;
  if (config.rnn == RnnCell::kGru) {
    gru_ = register_module("rnn", nn::GRU(nn::GRUOptions(step_features_, config.rnn_hidden)
                                              .num_layers(config.rnn_layers)
                                              .batch_first(true)
                                              .bidirectional(config.bidirectional)
                                              .dropout(between_layers)));
  } else if (config.rnn == RnnCell::kLstm) {
    lstm_ = register_module("rnn", nn::LSTM(nn::LSTMOptions(step_features_, config.rnn_hidden)
                                                .num_layers(config.rnn_layers)
                                                .batch_first(true)
                                                .bidirectional(config.bidirectional)
                                                .dropout(between_layers)));
  }
  // Without a recurrent cell (rnn: none, the CNN-alone baseline) the steps themselves are
  // pooled: with raster steps and mean pooling that is global average pooling.
  const std::int64_t rnn_out = config.rnn == RnnCell::kNone
                                   ? step_features_
                                   : config.rnn_hidden * (config.bidirectional ? 2 : 1);
  if (config.pooling == Pooling::kAttention)
    attention_ = register_module("attention", nn::Linear(rnn_out, 1));
  head_dropout_ = register_module("head_dropout", nn::Dropout(config.head_dropout));
  head_ = register_module("head", nn::Linear(rnn_out, kNumEmotions));
}

torch::Tensor FerNetImpl::to_sequence(const torch::Tensor& features) const {
  const auto b = features.size(0), c = features.size(1), h = features.size(2), w = features.size(3);
  switch (config_.sequence) {
    case SequenceLayout::kRows:  // step = one row: [B, h, C*w]
      return features.permute({0, 2, 1, 3}).reshape({b, h, c * w});
    case SequenceLayout::kColumns:  // step = one column: [B, w, C*h]
      return features.permute({0, 3, 1, 2}).reshape({b, w, c * h});
    case SequenceLayout::kRaster:  // step = one position: [B, h*w, C]
      break;
  }
  return features.flatten(2).transpose(1, 2);
}

bool FerNetImpl::fused_cpu_kernels_apply(const torch::Tensor& images) const {
  return fused_cpu_kernels_ && fused_shape_ok_ && is_training() && torch::GradMode::is_enabled() &&
         images.device().is_cpu() && images.scalar_type() == torch::kFloat32 && images.dim() == 4 &&
         images.size(1) == 1;
}

torch::Tensor FerNetImpl::fused_cnn_forward(const torch::Tensor& images) {
  torch::Tensor x = images;
  for (Stage& stage : stages_) {
    for (ConvLayer& layer : stage.layers)
      x = fer::kernels::fused_conv_bn_relu(x, *layer.conv, *layer.norm, bf16_convolutions_);
    x = fer::kernels::fused_max_pool_dropout(x, config_.cnn_dropout);
  }
  return fer::kernels::fused_to_nchw(x);
}

bool FerNetImpl::use_inference_kernels(InferencePrecision precision) {
  if (!fused_shape_ok_) return false;
  std::vector<fer::kernels::InferenceCnn::Layers> stages;
  for (Stage& stage : stages_) {
    fer::kernels::InferenceCnn::Layers layers;
    for (ConvLayer& layer : stage.layers) layers.emplace_back(layer.conv.get(), layer.norm.get());
    stages.push_back(std::move(layers));
  }
  inference_ = std::make_shared<fer::kernels::InferenceCnn>(stages, precision);
  return true;
}

torch::Tensor FerNetImpl::forward(torch::Tensor images) {
  const bool inference = inference_ && !is_training() && images.device().is_cpu() &&
                         images.scalar_type() == torch::kFloat32 && images.dim() == 4 &&
                         images.size(1) == 1;
  torch::Tensor features = inference                         ? inference_->forward(images)
                           : fused_cpu_kernels_apply(images) ? fused_cnn_forward(images)
                                                             : cnn_->forward(images);
  torch::Tensor sequence = to_sequence(features).contiguous();
  torch::Tensor steps = lstm_  ? std::get<0>(lstm_->forward(sequence))
                        : gru_ ? std::get<0>(gru_->forward(sequence))
                               : sequence;
  torch::Tensor pooled;
  if (config_.pooling == Pooling::kMean) {
    pooled = steps.mean(1);
  } else if (config_.pooling == Pooling::kAttention) {
    torch::Tensor weights = torch::softmax(attention_->forward(steps), /*dim=*/1);  // [B, T, 1]
    pooled = (weights * steps).sum(1);
  } else if (config_.bidirectional && config_.rnn != RnnCell::kNone) {
    // last: the forward direction's last step and the backward direction's first,
    // each having read the whole sequence.
    const std::int64_t hidden = config_.rnn_hidden;
    pooled = torch::cat(
        {steps.select(1, -1).narrow(1, 0, hidden), steps.select(1, 0).narrow(1, hidden, hidden)},
        1);
  } else {
    pooled = steps.select(1, -1);
  }
  return head_->forward(head_dropout_->forward(pooled));
}

std::int64_t parameter_count(torch::nn::Module& module) {
  std::int64_t count = 0;
  for (const auto& p : module.parameters()) count += p.numel();
  return count;
}

}  // namespace fer
