#include "train/batch_limits.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "common/error.hpp"

namespace fer {

std::uint64_t activation_bytes_per_image(const ModelConfig& model, int input_side) {
  std::uint64_t floats = static_cast<std::uint64_t>(input_side) * input_side;
  std::uint64_t side = static_cast<std::uint64_t>(input_side);
  for (const int channels : model.channels) {
    const std::uint64_t plane = side * side * static_cast<std::uint64_t>(channels);
    floats += 3 * plane * static_cast<std::uint64_t>(std::max(1, model.convs_per_stage));
    side = std::max<std::uint64_t>(1, side / 2);
    floats += side * side * static_cast<std::uint64_t>(channels);  // the pool's output
  }
  return floats * sizeof(float) * 2;  // and as many gradients in backward
}

std::uint64_t available_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);)
    if (line.rfind("MemAvailable:", 0) == 0) {
      std::istringstream fields(line.substr(13));
      std::uint64_t kib = 0;
      fields >> kib;
      return kib * 1024;
    }
  return 0;
}

namespace {
std::string gib(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
  return text;
}
}  // namespace

void check_train_batch(const TrainConfig& config, std::size_t train_images, int world,
                       int local_ranks, int input_side, std::uint64_t available_bytes) {
  std::size_t images = train_images;
  if (config.data.limit_train_images > 0)
    images = std::min(images, static_cast<std::size_t>(config.data.limit_train_images));
  const std::size_t per_rank = images / static_cast<std::size_t>(std::max(1, world));
  const auto batch = static_cast<std::size_t>(config.data.batch_size);
  if (batch > per_rank)
    throw InputError("data.batch_size = " + std::to_string(batch) +
                     " is larger than the training images of each rank (" + std::to_string(images) +
                     " / " + std::to_string(world) + (world == 1 ? " rank = " : " ranks = ") +
                     std::to_string(per_rank) + "): choose at most " + std::to_string(per_rank));
  if (available_bytes == 0) return;
  const double needed = static_cast<double>(activation_bytes_per_image(config.model, input_side)) *
                        static_cast<double>(batch) * std::max(1, local_ranks);
  if (needed > 0.9 * static_cast<double>(available_bytes))
    throw InputError("data.batch_size = " + std::to_string(batch) + " needs about " + gib(needed) +
                     " for activations on this node (" + std::to_string(std::max(1, local_ranks)) +
                     " ranks; estimate), " + gib(static_cast<double>(available_bytes)) +
                     " are available: choose a smaller batch (or optim.accumulation_steps)");
}

std::size_t eval_batch_for(const TrainConfig& config, std::size_t val_images, int world) {
  std::size_t images = val_images;
  if (config.data.limit_val_images > 0)
    images = std::min(images, static_cast<std::size_t>(config.data.limit_val_images));
  const std::size_t per_rank =
      (images + static_cast<std::size_t>(world) - 1) / static_cast<std::size_t>(std::max(1, world));
  return std::max<std::size_t>(
      1, std::min(static_cast<std::size_t>(config.data.eval_batch_size), per_rank));
}

}  // namespace fer
