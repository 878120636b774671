#include "model/compute_device.hpp"

#include <string>

#include "common/error.hpp"

namespace fer {

torch::Device choose_device(DeviceChoice wanted, int local_rank, std::string_view setting) {
  const bool cuda = torch::cuda::is_available();
  if (wanted == DeviceChoice::kCuda && !cuda)
    throw InputError(std::string(setting) +
                     ", but this LibTorch has no usable CUDA device (use auto or cpu)");
  if (wanted == DeviceChoice::kCpu || !cuda) return torch::Device(torch::kCPU);
  return torch::Device(
      torch::kCUDA,
      static_cast<c10::DeviceIndex>(local_rank % static_cast<int>(torch::cuda::device_count())));
}

}  // namespace fer
