#include "dist/gradient_bucketer.hpp"

#include <ATen/ATen.h>

#include <chrono>

#include "common/error.hpp"
#include "dist/bucket_plan.hpp"

namespace fer {

GradientBucketer::GradientBucketer(std::vector<at::Tensor> parameters, Communicator& communicator,
                                   BucketOptions options, std::shared_ptr<const ReductionHook> hook)
    : parameters_(std::move(parameters)),
      slots_(parameters_.size()),
      communicator_(communicator),
      options_(options),
      hook_(hook ? std::move(hook) : make_reduction_hook(Compression::kNone)) {
  if (!communicator_.supports(hook_->wire_type()))
    throw InputError("dist.compression = " + hook_->name() + " is not supported by the " +
                     communicator_.describe() + " backend (use none, or the nccl backend)");
  std::vector<ParameterSize> sizes;
  for (const at::Tensor& p : parameters_) sizes.push_back({p.numel(), p.requires_grad()});
  const BucketPlan plan = plan_buckets(sizes, options_.first_bucket_mb, options_.bucket_mb);
  for (const std::vector<std::size_t>& members : plan.buckets) {
    Bucket& bucket = buckets_.emplace_back();
    std::int64_t filled = 0;
    for (std::size_t k : members) {
      slots_[k] = {buckets_.size() - 1, filled, parameters_[k].numel(), false};
      bucket.parameters.push_back(k);
      filled += parameters_[k].numel();
    }
    bucket.flat = at::zeros({filled}, parameters_[members.front()].options().dtype(at::kFloat));
  }
  for (std::size_t k = 0; k < parameters_.size(); ++k) {
    if (!parameters_[k].requires_grad()) continue;
    hook_handles_.push_back(parameters_[k].register_hook(
        [this, k](const at::Tensor& gradient) { on_gradient(k, gradient); }));
  }
}

GradientBucketer::~GradientBucketer() {
  std::size_t handle = 0;
  for (std::size_t k = 0; k < parameters_.size(); ++k)
    if (parameters_[k].requires_grad()) parameters_[k].remove_hook(hook_handles_[handle++]);
}

std::vector<std::size_t> GradientBucketer::bucket_bytes() const {
  std::vector<std::size_t> sizes;
  for (const Bucket& bucket : buckets_)
    sizes.push_back(static_cast<std::size_t>(bucket.flat.nbytes()));
  return sizes;
}

void GradientBucketer::prepare_for_reduction(std::int64_t step) {
  std::lock_guard<std::mutex> lock(mutex_);
  armed_ = true;
  step_ = step;
  next_to_launch_ = 0;
  for (Slot& slot : slots_) slot.ready = false;
  for (Bucket& bucket : buckets_) {
    bucket.pending = bucket.parameters.size();
    bucket.work.reset();
  }
}

// The gradient of this backward pass for parameter `index`, before autograd adds it
// to .grad (which, with accumulation, holds the earlier micro-batches' sum).
void GradientBucketer::store(std::size_t index, const at::Tensor& gradient) {
  Slot& slot = slots_[index];
  const at::Tensor& parameter = parameters_[index];
  at::Tensor view =
      buckets_[slot.bucket].flat.narrow(0, slot.offset, slot.numel).view(parameter.sizes());
  const at::Tensor& accumulated = parameter.grad();
  if (gradient.defined())
    view.copy_(gradient);
  else
    view.zero_();
  if (accumulated.defined()) view.add_(accumulated);
  slot.ready = true;
}

void GradientBucketer::on_gradient(std::size_t index, const at::Tensor& gradient) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!armed_ || slots_[index].ready) return;
  store(index, gradient);
  --buckets_[slots_[index].bucket].pending;
  if (options_.overlap) {
    launch_ready_buckets();
    poll_launched();  // MPI progresses only inside MPI calls
  }
}

void GradientBucketer::launch_ready_buckets() {
  while (next_to_launch_ < buckets_.size() && buckets_[next_to_launch_].pending == 0)
    launch(next_to_launch_++);
}

void GradientBucketer::launch(std::size_t index) {
  Bucket& bucket = buckets_[index];
  bucket.wire = hook_->encode(bucket.flat);
  bucket.work = communicator_.start_average(
      bucket.wire, "gradient all-reduce, step " + std::to_string(step_) + ", bucket " +
                       std::to_string(index + 1) + " of " + std::to_string(buckets_.size()));
}

void GradientBucketer::poll_launched() {
  for (std::size_t k = 0; k < next_to_launch_; ++k)
    if (buckets_[k].work) buckets_[k].work->test();
}

void GradientBucketer::finish_reduction() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!armed_) return;
  armed_ = false;
  // Parameters that took no part in this backward pass contribute what they have.
  for (std::size_t k = 0; k < parameters_.size(); ++k) {
    if (!parameters_[k].requires_grad() || slots_[k].ready) continue;
    store(k, at::Tensor());
    --buckets_[slots_[k].bucket].pending;
  }
  launch_ready_buckets();
  const auto start = std::chrono::steady_clock::now();
  for (Bucket& bucket : buckets_) bucket.work->wait();
  exposed_seconds_ +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (std::size_t k = 0; k < parameters_.size(); ++k) {
    at::Tensor& parameter = parameters_[k];
    if (!parameter.requires_grad()) continue;
    const Slot& slot = slots_[k];
    Bucket& bucket = buckets_[slot.bucket];
    at::Tensor mean = bucket.wire.narrow(0, slot.offset, slot.numel).view(parameter.sizes());
    if (!parameter.grad().defined()) parameter.mutable_grad() = at::zeros_like(parameter);
    parameter.mutable_grad().copy_(mean);
  }
  for (Bucket& bucket : buckets_) bucket.work.reset();
}

}  // namespace fer
