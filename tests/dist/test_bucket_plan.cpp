// The bucket layout, without MPI or LibTorch: dist/bucket_plan.hpp.
#include "dist/bucket_plan.hpp"

#include <gtest/gtest.h>

namespace fer {
namespace {

using Buckets = std::vector<std::vector<std::size_t>>;

TEST(BucketPlan, FromTheLastParameterWithASmallFirstBucket) {
  // 1 MB = 262,144 floats. Parameters in model order; backward meets 3 first.
  const std::vector<ParameterSize> sizes = {{100'000}, {200'000}, {50'000}, {10}};
  // First cap 0.0001 MB = 26 floats: parameter 3 alone; then 1 MB caps.
  const BucketPlan plan = plan_buckets(sizes, 0.0001, 1.0);
  EXPECT_EQ(plan.buckets, (Buckets{{3}, {2, 1}, {0}}));
}

TEST(BucketPlan, AParameterLargerThanTheCapGetsABucketOfItsOwn) {
  const std::vector<ParameterSize> sizes = {{5}, {1'000'000}, {5}};
  const BucketPlan plan = plan_buckets(sizes, 1.0, 1.0);
  EXPECT_EQ(plan.buckets, (Buckets{{2}, {1}, {0}}));
  // One large cap holds everything in one bucket.
  EXPECT_EQ(plan_buckets(sizes, 25, 25).buckets, (Buckets{{2, 1, 0}}));
}

TEST(BucketPlan, FrozenParametersAreInNoBucket) {
  const std::vector<ParameterSize> sizes = {{10}, {10, false}, {10}};
  EXPECT_EQ(plan_buckets(sizes, 25, 25).buckets, (Buckets{{2, 0}}));
  EXPECT_TRUE(plan_buckets({{10, false}}, 25, 25).buckets.empty());
}

TEST(BucketPlan, TinyCapsStillHoldOneElement) {
  EXPECT_EQ(float_elements_in(0), 1);
  EXPECT_EQ(float_elements_in(1.0), 262'144);
  const std::vector<ParameterSize> sizes = {{1}, {1}, {1}};
  EXPECT_EQ(plan_buckets(sizes, 0, 0).buckets, (Buckets{{2}, {1}, {0}}));
}

}  // namespace
}  // namespace fer
