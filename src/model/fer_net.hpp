#pragma once
// The hybrid CNN-RNN classifier. CNN stages turn a 1 x S x S face into a C x h x w
// feature map; the map is read as a sequence (rows, columns, or the raster of
// positions) by an LSTM or GRU; the sequence is pooled (last step, mean, or learned
// attention) and a linear layer gives the logits of the 7 FER2013 emotions.

#include <torch/torch.h>

#include "config/train_config.hpp"

namespace fer {

class FerNetImpl : public torch::nn::Module {
 public:
  FerNetImpl(const ModelConfig& config, int input_side);

  // images [B, 1, S, S] normalised -> logits [B, 7]
  torch::Tensor forward(torch::Tensor images);

  // Sequence length and per-step feature size the RNN sees for this input size.
  std::int64_t sequence_length() const { return sequence_length_; }
  std::int64_t step_features() const { return step_features_; }

 private:
  torch::Tensor to_sequence(const torch::Tensor& features) const;

  ModelConfig config_;
  torch::nn::Sequential cnn_{nullptr};
  torch::nn::LSTM lstm_{nullptr};
  torch::nn::GRU gru_{nullptr};
  torch::nn::Linear attention_{nullptr};
  torch::nn::Dropout head_dropout_{nullptr};
  torch::nn::Linear head_{nullptr};
  std::int64_t sequence_length_ = 0;
  std::int64_t step_features_ = 0;
};
TORCH_MODULE(FerNet);

std::int64_t parameter_count(torch::nn::Module& module);

}  // namespace fer
