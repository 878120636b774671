#pragma once
// The device a process computes on, for train.device and the --device of fer-eval,
// fer-predict and fer-serve: one rule, so every tool treats "auto" and a missing GPU alike.

#include <torch/torch.h>

#include <string_view>

#include "config/choices.hpp"

namespace fer {

// auto: CUDA when this LibTorch has a usable device, else the CPU. On CUDA one GPU per
// rank of a node: the local rank picks it. Throws InputError "<setting>, but this LibTorch
// has no usable CUDA device ..." for cuda without one (`setting`: e.g. "--device cuda").
torch::Device choose_device(DeviceChoice wanted, int local_rank, std::string_view setting);

}  // namespace fer
