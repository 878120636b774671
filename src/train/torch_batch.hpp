#pragma once
// LibTorch glue of the training step and the validation: bf16 autocast on CUDA, and a
// loader batch as tensors on the rank's device (model/compute_device.hpp chooses it).

#include <torch/torch.h>

#include <string>

#include "pipeline/batch_loader.hpp"

namespace fer {

// bf16 autocast on CUDA while it lives (the C++ autocast API changed in LibTorch 2.4).
class AutocastScope {
 public:
  explicit AutocastScope(bool enabled);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_;
};

// The batch's images [size x views, 1, side, side]: on the CPU a view of the loader's
// memory (valid until its next batch), else a copy on `device`.
torch::Tensor batch_images(const Batch& batch, const torch::Device& device, bool channels_last);
torch::Tensor batch_labels(const Batch& batch, const torch::Device& device);

}  // namespace fer
