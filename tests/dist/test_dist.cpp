// Multi-process tests of src/dist: CTest runs this executable under
// `mpiexec -np 2` and `mpiexec -np 3 --oversubscribe`; every rank runs every test,
// and the collectives inside them are real MPI collectives between the ranks.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <optional>

#include "common/error.hpp"
#include "dist/agreement.hpp"
#include "dist/communicator.hpp"
#include "dist/gradient_bucketer.hpp"
#include "dist/model_sync.hpp"
#include "dist/process_group.hpp"
#include "dist/reduction_hook.hpp"

namespace fer {
namespace {

ProcessGroup* g_group = nullptr;
ProcessGroup& group() {
  return *g_group;
}

TEST(ProcessGroup, RanksMatchTheLauncherAndShareTheNode) {
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  ASSERT_NE(size, nullptr) << "run this test under mpiexec";
  EXPECT_EQ(group().size(), std::atoi(size));
  EXPECT_EQ(group().rank(), std::atoi(std::getenv("OMPI_COMM_WORLD_RANK")));
  // One node: the shared-memory split holds every rank.
  EXPECT_EQ(group().local_size(), group().size());
  EXPECT_EQ(group().local_rank(), group().rank());
}

TEST(ProcessGroup, BroadcastGatherAndExactSums) {
  const int last = group().size() - 1;
  std::string text = group().rank() == last ? std::string(100001, 'x') + "from the last rank" : "";
  group().broadcast(text, last, "test broadcast");
  EXPECT_EQ(text.size(), 100001u + 18u);
  EXPECT_EQ(text.substr(100001), "from the last rank");

  const auto all = group().gather("rank" + std::to_string(group().rank()), 0, "test gather");
  if (group().rank() == 0) {
    ASSERT_EQ(all.size(), static_cast<std::size_t>(group().size()));
    for (int r = 0; r < group().size(); ++r) EXPECT_EQ(all[r], "rank" + std::to_string(r));
  } else {
    EXPECT_TRUE(all.empty());
  }

  // Counts beyond 2^53 stay exact in int64.
  std::vector<std::int64_t> counts = {(std::int64_t{1} << 60) + group().rank(), 1, -group().rank()};
  group().all_reduce_sum(counts.data(), counts.size(), "test int64 sum");
  const std::int64_t n = group().size();
  EXPECT_EQ(counts[0], n * (std::int64_t{1} << 60) + n * (n - 1) / 2);
  EXPECT_EQ(counts[1], n);
  EXPECT_EQ(counts[2], -n * (n - 1) / 2);
  double value = 0.25 * (group().rank() + 1);
  group().all_reduce_sum(&value, 1, "test double sum");
  EXPECT_DOUBLE_EQ(value, 0.25 * static_cast<double>(n * (n + 1) / 2));
  group().barrier("test barrier");
}

// Parameters of awkward sizes; the loss makes every gradient element equal to
// (rank + 1) * scale, so the mean over ranks is known exactly.
struct ToyParameters {
  std::vector<torch::Tensor> tensors;
  explicit ToyParameters(std::vector<std::int64_t> sizes) {
    for (auto n : sizes) tensors.push_back(torch::zeros({n}, torch::requires_grad()));
  }
  void backward(double scale, std::size_t skip = SIZE_MAX) {
    torch::Tensor loss = torch::zeros({});
    for (std::size_t k = 0; k < tensors.size(); ++k) {
      if (k != skip) loss = loss + tensors[k].sum() * (scale * (group().rank() + 1));
    }
    loss.backward();
  }
};

double mean_of_rank_plus_one() {
  return (group().size() + 1) / 2.0;
}

TEST(GradientBucketer, OddSizedBucketsAverageExactly) {
  const auto communicator = make_communicator(DistBackend::kMpi, group(), torch::kCPU);
  for (bool overlap : {true, false}) {
    for (double bucket_mb : {0.001, 25.0}) {
      ToyParameters toy({1, 7, 1001, 3, 65537, 5, 2});
      BucketOptions options;
      options.bucket_mb = bucket_mb;
      options.first_bucket_mb = 0.00002;  // 5 floats: the first bucket holds the last parameters
      options.overlap = overlap;
      GradientBucketer bucketer(toy.tensors, *communicator, options);
      if (bucket_mb < 1) {
        EXPECT_GE(bucketer.bucket_count(), 4u);
      }
      for (int step = 1; step <= 3; ++step) {  // buffers are reused across steps
        for (auto& t : toy.tensors)
          if (t.grad().defined()) t.mutable_grad().zero_();
        bucketer.prepare_for_reduction(step);
        toy.backward(step);
        bucketer.finish_reduction();
        for (const auto& t : toy.tensors) {
          ASSERT_TRUE(torch::equal(t.grad(), torch::full_like(t, step * mean_of_rank_plus_one())))
              << "overlap " << overlap << " bucket_mb " << bucket_mb << " size " << t.numel();
        }
      }
    }
  }
}

TEST(GradientBucketer, UnusedParametersAndAccumulatedMicroBatches) {
  const auto communicator = make_communicator(DistBackend::kMpi, group(), torch::kCPU);
  ToyParameters toy({10, 20, 30});
  BucketOptions options;
  options.bucket_mb = 0.0001;
  options.first_bucket_mb = 0.0001;
  GradientBucketer bucketer(toy.tensors, *communicator, options);
  // Micro-batch 1 is only accumulated; micro-batch 2 (parameter 1 unused) is reduced.
  toy.backward(1.0);
  bucketer.prepare_for_reduction(1);
  toy.backward(2.0, /*skip=*/1);
  bucketer.finish_reduction();
  EXPECT_TRUE(torch::equal(toy.tensors[0].grad(), torch::full({10}, 3 * mean_of_rank_plus_one())));
  EXPECT_TRUE(torch::equal(toy.tensors[1].grad(), torch::full({20}, 1 * mean_of_rank_plus_one())));
  EXPECT_TRUE(torch::equal(toy.tensors[2].grad(), torch::full({30}, 3 * mean_of_rank_plus_one())));
}

// A reduction hook decides what each bucket's all-reduce carries: here twice the gradients,
// so every .grad must come out as twice the mean.
class DoublingHook final : public ReductionHook {
 public:
  std::string name() const override { return "doubling"; }
  at::ScalarType wire_type() const override { return at::kFloat; }
  at::Tensor encode(const at::Tensor& flat) const override { return flat * 2; }
};

TEST(GradientBucketer, EveryBucketGoesThroughTheReductionHook) {
  const auto communicator = make_communicator(DistBackend::kMpi, group(), torch::kCPU);
  ToyParameters toy({10, 20, 30});
  BucketOptions options;
  options.bucket_mb = 0.0001;  // 26 floats: three buckets
  options.first_bucket_mb = 0.0001;
  GradientBucketer bucketer(toy.tensors, *communicator, options, std::make_shared<DoublingHook>());
  ASSERT_EQ(bucketer.bucket_count(), 3u);
  bucketer.prepare_for_reduction(1);
  toy.backward(1.0);
  bucketer.finish_reduction();
  for (const auto& t : toy.tensors)
    EXPECT_TRUE(torch::equal(t.grad(), torch::full_like(t, 2 * mean_of_rank_plus_one())));
  // The compression hooks: bf16 needs a backend that sums bf16, which MPI does not.
  EXPECT_EQ(make_reduction_hook(Compression::kBf16)->wire_type(), at::kBFloat16);
  try {
    GradientBucketer refused(toy.tensors, *communicator, options,
                             make_reduction_hook(Compression::kBf16));
    ADD_FAILURE() << "bf16 buckets over MPI were accepted";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("dist.compression = bf16"), std::string::npos)
        << error.what();
  }
  // An unknown compression never reaches the hooks: the config boundary refuses it.
  EXPECT_THROW(parse_choice<Compression>("int8", "dist.compression"), InputError);
}

TEST(ModelSync, BroadcastFromRankZeroAndAveragedBatchNormStatistics) {
  const auto communicator = make_communicator(DistBackend::kMpi, group(), torch::kCPU);
  torch::manual_seed(100 + static_cast<std::uint64_t>(group().rank()));  // replicas differ
  torch::nn::Sequential net(torch::nn::Linear(5, 3), torch::nn::BatchNorm1d(3));
  broadcast_model_state(*net, *communicator, 0);
  // Rank 0's parameters everywhere: compare with rank 0's, broadcast separately.
  for (const auto& p : net->parameters()) {
    torch::Tensor reference = p.detach().clone();
    communicator->broadcast(reference, 0, "test reference");
    EXPECT_TRUE(torch::equal(reference, p));
  }
  auto buffers = net->named_buffers();
  torch::NoGradGuard no_grad;
  buffers["1.running_mean"].fill_(static_cast<double>(group().rank()));
  buffers["1.num_batches_tracked"].fill_(7);
  average_buffers(*net, *communicator);
  EXPECT_TRUE(
      torch::allclose(buffers["1.running_mean"], torch::full({3}, (group().size() - 1) / 2.0)));
  EXPECT_EQ(buffers["1.num_batches_tracked"].item<std::int64_t>(), 7);
}

TEST(Agreement, EqualTextsPassAndADifferenceIsReportedByRankZero) {
  EXPECT_NO_THROW(check_agreement(group(), {{"configuration", "optim:\n  lr: 0.01\n"}}));
  if (group().size() == 1) GTEST_SKIP() << "needs 2 ranks";
  const std::string lr = group().rank() == 1 ? "0.02" : "0.01";
  try {
    check_agreement(group(), {{"configuration", "optim:\n  lr: " + lr + "\n  momentum: 0.9\n"}});
    FAIL() << "no error";
  } catch (const JobWideError& e) {
    EXPECT_EQ(e.exit_code(), kExitInputError);
    EXPECT_EQ(e.report(), group().rank() == 0);
    if (group().rank() == 0) {
      const std::string message = e.what();
      EXPECT_NE(message.find("rank 1 disagrees with rank 0"), std::string::npos) << message;
      EXPECT_NE(message.find("'optim.lr: 0.02' where rank 0 has 'optim.lr: 0.01'"),
                std::string::npos)
          << message;
      EXPECT_EQ(message.find("rank 2 disagrees"), std::string::npos) << message;
    }
  }
}

TEST(Agreement, AFailureOnOneRankEndsEveryRank) {
  const int last = group().size() - 1;
  EXPECT_NO_THROW(all_or_nothing(group(), "test step", [] {}));
  try {
    all_or_nothing(group(), "test step", [&] {
      if (group().rank() == last) throw CorruptDataError("shard 3 is damaged");
    });
    FAIL() << "no error";
  } catch (const JobWideError& e) {
    EXPECT_EQ(e.exit_code(), kExitCorrupt);
    if (group().rank() == 0) {
      EXPECT_NE(std::string(e.what()).find("shard 3 is damaged"), std::string::npos) << e.what();
      if (group().size() > 1) {
        EXPECT_NE(std::string(e.what()).find("rank " + std::to_string(last)), std::string::npos);
      }
    }
  } catch (const CorruptDataError&) {
    EXPECT_EQ(group().size(), 1) << "a world of one just rethrows";
  }
}

TEST(Communicator, NcclOnACpuIsRefusedWithAClearMessage) {
  try {
    make_communicator(DistBackend::kNccl, group(), torch::kCPU);
    FAIL() << "nccl accepted a CPU device";
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("dist.backend = nccl"), std::string::npos) << message;
    EXPECT_NE(message.find("mpi"), std::string::npos) << message;
  }
  EXPECT_EQ(resolve_backend(DistBackend::kAuto, torch::kCPU), DistBackend::kMpi);
}

// The GPU path: the NCCL communicator set up on this rank's GPU, averaging fp32 and
// bf16 buckets and broadcasting. CTest runs it as gpu.nccl (one rank, as on the lent
// single-GPU machine); without a CUDA device (or NCCL in this build) it skips.
TEST(Communicator, NcclAveragesAndBroadcastsOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device visible to LibTorch";
  if (static_cast<int>(torch::cuda::device_count()) < group().local_size())
    GTEST_SKIP() << "fewer GPUs than ranks on this node";
  const c10::Device device(torch::kCUDA, static_cast<c10::DeviceIndex>(group().local_rank()));
  if (resolve_backend(DistBackend::kAuto, device) != DistBackend::kNccl)
    GTEST_SKIP() << "this build has no NCCL";
  auto communicator = make_communicator(DistBackend::kNccl, group(), device);
  EXPECT_NE(communicator->describe().find("nccl"), std::string::npos);
  const double n = group().size();
  for (const auto type : {at::kFloat, at::kBFloat16}) {
    auto flat = torch::full({4099}, group().rank() + 1.0, torch::dtype(type).device(device));
    communicator->start_average(flat, "test nccl average")->wait();
    const auto expected = torch::full({4099}, (n + 1) / 2, torch::dtype(at::kFloat));
    EXPECT_TRUE(torch::equal(flat.to(torch::kCPU, at::kFloat), expected))
        << "average of " << c10::toString(type);
  }
  auto shared = torch::full({17}, group().rank() * 3.0, torch::dtype(at::kFloat).device(device));
  communicator->broadcast(shared, 0, "test nccl broadcast");
  EXPECT_TRUE(torch::equal(shared.cpu(), torch::zeros({17})));
}

}  // namespace
}  // namespace fer

int main(int argc, char** argv) {
  fer::ProcessGroup group(&argc, &argv);
  group.set_timeout(60);  // a broken test fails by deadline instead of hanging
  fer::g_group = &group;
  ::testing::InitGoogleTest(&argc, argv);
  const int failed = RUN_ALL_TESTS();
  // The job fails when any rank failed.
  std::int64_t failures = failed ? 1 : 0;
  group.all_reduce_sum(&failures, 1, "test outcome");
  return failures ? 1 : 0;
}
