#pragma once
// Which gradients travel together: the assignment of parameters to all-reduce buckets,
// as a pure function of their sizes (c10d's compute_bucket_assignment_by_size), so that
// the layout is testable without MPI or LibTorch.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fer {

struct ParameterSize {
  std::int64_t numel = 0;
  bool trainable = true;  // false (requires_grad off): in no bucket
};

struct BucketPlan {
  // Each bucket's parameter indices (in the model's order), in the order the buckets are
  // filled and reduced: from the model's last parameters, whose gradients backward
  // computes first, to its first.
  std::vector<std::vector<std::size_t>> buckets;
};

// A bucket closes before the parameter that would take it past its cap (a parameter
// larger than the cap gets a bucket of its own). The first bucket's cap is
// first_bucket_mb, so that the first reduction starts early in backward; the others'
// bucket_mb. Caps count MB of float32 gradients (2^20 bytes, 4 bytes per element).
BucketPlan plan_buckets(const std::vector<ParameterSize>& parameters, double first_bucket_mb,
                        double bucket_mb);

// Float32 elements in `mb` MB (2^20 bytes), at least 1.
std::int64_t float_elements_in(double mb);

}  // namespace fer
