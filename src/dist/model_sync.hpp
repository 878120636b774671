#pragma once
// Keeping the replicas identical where the gradient all-reduce does not: parameters
// and buffers are broadcast from rank 0 before the first step, and BatchNorm running
// statistics (which every rank updates from its own batches) are averaged before
// every evaluation and checkpoint.

#include <torch/nn/module.h>

#include "dist/communicator.hpp"

namespace fer {

void broadcast_model_state(torch::nn::Module& module, Communicator& communicator, int root);
// Averages the floating-point buffers (BatchNorm running mean and variance) over ranks.
void average_buffers(torch::nn::Module& module, Communicator& communicator);

}  // namespace fer
