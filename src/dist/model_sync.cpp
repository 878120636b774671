#include "dist/model_sync.hpp"

#include <torch/torch.h>

namespace fer {
namespace {

// Flattens same-typed tensors into one contiguous buffer: one collective instead of
// one per tensor.
torch::Tensor flatten(const std::vector<torch::Tensor>& tensors) {
  std::vector<torch::Tensor> flat;
  for (const auto& t : tensors) flat.push_back(t.detach().reshape(-1));
  return torch::cat(flat);
}

void unflatten_into(const torch::Tensor& flat, std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  std::int64_t offset = 0;
  for (auto& t : tensors) {
    t.copy_(flat.narrow(0, offset, t.numel()).view(t.sizes()));
    offset += t.numel();
  }
}

}  // namespace

void broadcast_model_state(torch::nn::Module& module, Communicator& communicator, int root) {
  std::vector<torch::Tensor> floating, integral;
  for (const auto& p : module.parameters()) floating.push_back(p);
  for (const auto& b : module.buffers()) (b.is_floating_point() ? floating : integral).push_back(b);
  for (auto* group : {&floating, &integral}) {
    if (group->empty()) continue;
    // Same dtype within a group: float32 parameters/statistics, int64 counters.
    torch::Tensor flat = flatten(*group);
    communicator.broadcast(flat, root, "broadcast of the model state from rank 0");
    unflatten_into(flat, *group);
  }
}

void average_buffers(torch::nn::Module& module, Communicator& communicator) {
  std::vector<torch::Tensor> statistics;
  for (const auto& b : module.buffers())
    if (b.is_floating_point()) statistics.push_back(b);
  if (statistics.empty()) return;
  torch::Tensor flat = flatten(statistics);
  communicator.start_average(flat, "averaging BatchNorm statistics")->wait();
  unflatten_into(flat, statistics);
}

}  // namespace fer
