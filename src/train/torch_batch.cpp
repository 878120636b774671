#include "train/torch_batch.hpp"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace fer {

AutocastScope::AutocastScope(bool enabled) : enabled_(enabled) {
  if (!enabled_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  at::autocast::set_autocast_enabled(at::kCUDA, true);
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
#else
  at::autocast::set_enabled(true);
  at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
#endif
}

AutocastScope::~AutocastScope() {
  if (!enabled_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
  at::autocast::set_enabled(false);
#endif
  at::autocast::clear_cache();
}

torch::Tensor batch_images(const Batch& batch, const torch::Device& device, bool channels_last) {
  torch::Tensor images = torch::from_blob(
      const_cast<float*>(batch.images),
      {static_cast<long>(batch.size) * batch.views, 1, batch.side, batch.side}, torch::kFloat32);
  if (device.is_cpu()) return images;
  images = images.to(device);
  return channels_last ? images.contiguous(at::MemoryFormat::ChannelsLast) : images;
}

torch::Tensor batch_labels(const Batch& batch, const torch::Device& device) {
  torch::Tensor labels = torch::from_blob(const_cast<std::int64_t*>(batch.labels),
                                          {static_cast<long>(batch.size)}, torch::kInt64);
  return device.is_cpu() ? labels : labels.to(device);
}

}  // namespace fer
