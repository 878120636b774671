#include "dist/bucket_plan.hpp"

#include <algorithm>

namespace fer {

std::int64_t float_elements_in(double mb) {
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(mb * 1024 * 1024 / sizeof(float)));
}

BucketPlan plan_buckets(const std::vector<ParameterSize>& parameters, double first_bucket_mb,
                        double bucket_mb) {
  BucketPlan plan;
  std::int64_t cap = float_elements_in(first_bucket_mb);
  std::int64_t filled = 0;
  for (std::size_t k = parameters.size(); k-- > 0;) {
    if (!parameters[k].trainable) continue;
    if (plan.buckets.empty() || (filled > 0 && filled + parameters[k].numel > cap)) {
      if (!plan.buckets.empty()) cap = float_elements_in(bucket_mb);
      plan.buckets.emplace_back();
      filled = 0;
    }
    plan.buckets.back().push_back(k);
    filled += parameters[k].numel;
  }
  return plan;
}

}  // namespace fer
