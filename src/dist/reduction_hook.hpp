#pragma once
// What a gradient bucket's all-reduce carries, as DDP's communication hooks
// (register_comm_hook, bf16_compress_hook): the hook turns a bucket's float32 gradients
// into the tensor that is averaged over ranks. Compression is one such hook, not a
// property of the bucketer.

#include <ATen/ATen.h>

#include <memory>
#include <string>

#include "config/choices.hpp"

namespace fer {

class ReductionHook {
 public:
  virtual ~ReductionHook() = default;
  virtual std::string name() const = 0;          // as in dist.compression: none, bf16, fp16
  virtual at::ScalarType wire_type() const = 0;  // checked against the communicator
  // The tensor to average over ranks, from a bucket's float32 gradients (`flat` itself
  // when nothing is compressed). The bucketer copies each parameter's slice of the
  // average into its .grad, converting back to float32.
  virtual at::Tensor encode(const at::Tensor& flat) const = 0;
};

// dist.compression: none (float32 as it is), bf16 or fp16 (a cast before the reduction;
// the sum is then in that type, so only for backends that have it: NCCL).
std::shared_ptr<const ReductionHook> make_reduction_hook(Compression compression);

}  // namespace fer
