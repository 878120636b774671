#pragma once
// Batches the data and the machine can hold, checked before anything is allocated: a
// configured batch larger than the split, or one whose activations cannot fit in
// memory, is refused with the key and the numbers (a batch of 10^9 used to grow to
// 21.7 GB and be OOM-killed without a word). No LibTorch: plain arithmetic.

#include <cstddef>
#include <cstdint>

#include "config/train_config.hpp"

namespace fer {

// Rough bytes of forward activations and their gradients for one training image
// (every stage's convolution, BatchNorm and ReLU outputs, its pool): an estimate for
// refusing impossible batches, not a prediction of the process size.
std::uint64_t activation_bytes_per_image(const ModelConfig& model, int input_side);

// MemAvailable of /proc/meminfo; 0 when unknown.
std::uint64_t available_memory_bytes();

// Throws InputError naming data.batch_size when it exceeds the training images each
// rank gets (`train_images` / `world`), or when `world` ranks' activations on this node
// (`local_ranks` of them) would need more than `available_bytes` (0: not checked).
void check_train_batch(const TrainConfig& config, std::size_t train_images, int world,
                       int local_ranks, int input_side, std::uint64_t available_bytes);

// The evaluation batch actually used: data.eval_batch_size, at most the images one
// rank evaluates (a larger one would only allocate memory for nothing).
std::size_t eval_batch_for(const TrainConfig& config, std::size_t val_images, int world);

}  // namespace fer
