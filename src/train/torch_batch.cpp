#include "train/torch_batch.hpp"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "common/error.hpp"

namespace fer {

torch::Device choose_device(const std::string& wanted, int local_rank) {
  const bool cuda = torch::cuda::is_available();
  if (wanted == "cuda" && !cuda)
    throw InputError(
        "train.device=cuda, but this LibTorch has no usable CUDA device (use auto or cpu)");
  if (wanted == "cuda" || (wanted == "auto" && cuda))
    return torch::Device(
        torch::kCUDA,
        static_cast<c10::DeviceIndex>(local_rank % static_cast<int>(torch::cuda::device_count())));
  return torch::Device(torch::kCPU);
}

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
