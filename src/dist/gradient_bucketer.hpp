#pragma once
// Data-parallel gradient averaging, overlapped with the backward pass (the design of
// PyTorch DDP's reducer):
//  1. Parameters are packed (dist/bucket_plan.hpp), in reverse order (the order backward produces
//  their
//     gradients), into flat buckets: the first small (dist.first_bucket_mb) so that
//     communication starts early, the rest up to dist.bucket_mb.
//  2. A hook on every parameter copies its gradient into its bucket as soon as
//     autograd has computed it. When a bucket is complete its all-reduce starts at
//     once, while backward continues with earlier layers; buckets are started in
//     index order on every rank (collectives must be issued in the same order).
//  3. finish_reduction() after backward starts what is left (parameters that got no
//     gradient contribute zeros), waits for every bucket (each wait has the
//     deadline) and writes the mean over ranks into each parameter's .grad.
// Gradient accumulation: only the backward of a step's last micro-batch is reduced
// (prepare_for_reduction before it); its hooks add the gradients accumulated so far.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dist/communicator.hpp"
#include "dist/reduction_hook.hpp"

namespace fer {

struct BucketOptions {
  double bucket_mb = 25;       // cap of each bucket, MB of float32 gradients
  double first_bucket_mb = 1;  // cap of the first bucket (the last layers' gradients)
  bool overlap = true;         // false: start every reduction after backward (for measuring)
};

class GradientBucketer {
 public:
  // `parameters` in the model's order; they must outlive the bucketer.
  // The buckets follow plan_buckets (dist/bucket_plan.hpp); `hook` makes what each
  // bucket's reduction carries (none: float32 as it is).
  GradientBucketer(std::vector<at::Tensor> parameters, Communicator& communicator,
                   BucketOptions options, std::shared_ptr<const ReductionHook> hook = nullptr);
  ~GradientBucketer();
  GradientBucketer(const GradientBucketer&) = delete;
  GradientBucketer& operator=(const GradientBucketer&) = delete;

  // Arms the hooks for the next backward pass; `step` names the reductions in messages.
  void prepare_for_reduction(std::int64_t step);
  // After that backward pass: every .grad holds the mean over ranks.
  void finish_reduction();

  std::size_t bucket_count() const { return buckets_.size(); }
  std::vector<std::size_t> bucket_bytes() const;  // float32 size of each bucket
  // Seconds finish_reduction spent waiting for reductions (communication not hidden
  // behind backward), summed over calls.
  double exposed_seconds() const { return exposed_seconds_; }

 private:
  struct Slot {  // one parameter's place in a bucket
    std::size_t bucket = 0;
    std::int64_t offset = 0;
    std::int64_t numel = 0;
    bool ready = false;
  };
  struct Bucket {
    at::Tensor flat;  // float32 gradients of its parameters
    at::Tensor wire;  // what is reduced: the hook's encoding of flat (flat itself uncompressed)
    std::vector<std::size_t> parameters;
    std::size_t pending = 0;  // parameters whose gradient has not arrived yet
    std::unique_ptr<CommunicationWork> work;
  };
  void on_gradient(std::size_t index, const at::Tensor& gradient);
  void store(std::size_t index, const at::Tensor& gradient);
  void launch_ready_buckets();
  void launch(std::size_t bucket);
  void poll_launched();

  std::vector<at::Tensor> parameters_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::vector<unsigned> hook_handles_;
  Communicator& communicator_;
  BucketOptions options_;
  std::shared_ptr<const ReductionHook> hook_;
  std::mutex mutex_;  // hooks may run on an autograd thread (CUDA)
  bool armed_ = false;
  std::size_t next_to_launch_ = 0;
  std::int64_t step_ = 0;
  double exposed_seconds_ = 0;
};

}  // namespace fer
