// The MPI backend: CPU tensors reduced with MPI_Iallreduce (summed, then divided by
// the world size on completion).
#include <ATen/ATen.h>

#include "dist/communicator_backends.hpp"

namespace fer {
namespace {

ElementType element_type_of(const at::Tensor& tensor) {
  switch (tensor.scalar_type()) {
    case at::kFloat:
      return ElementType::kFloat32;
    case at::kDouble:
      return ElementType::kFloat64;
    case at::kLong:
      return ElementType::kInt64;
    default:
      throw DistributedError(std::string("the mpi backend cannot reduce ") +
                             c10::toString(tensor.scalar_type()) + " tensors");
  }
}

class MpiWork : public CommunicationWork {
 public:
  MpiWork(ProcessGroup& group, at::Tensor target, const std::string& what)
      : group_(group), target_(std::move(target)) {
    // CUDA tensors go through host memory: MPI here is not CUDA-aware.
    host_ = target_.is_cpu() ? target_ : target_.to(at::kCPU);
    pending_ = group_.start_all_reduce_sum(
        host_.data_ptr(), static_cast<std::size_t>(host_.numel()), element_type_of(host_), what);
  }
  bool test() override { return pending_.test(); }
  void wait() override {
    if (finished_) return;
    pending_.wait();
    if (host_.is_floating_point()) host_.div_(group_.size());
    if (!target_.is_cpu()) target_.copy_(host_);
    finished_ = true;
  }

 private:
  ProcessGroup& group_;
  at::Tensor target_, host_;
  PendingCollective pending_;
  bool finished_ = false;
};

class MpiCommunicator : public Communicator {
 public:
  explicit MpiCommunicator(ProcessGroup& group) : group_(group) {}
  std::string describe() const override { return "mpi"; }
  bool supports(at::ScalarType type) const override {
    return type == at::kFloat || type == at::kDouble || type == at::kLong;
  }
  std::unique_ptr<CommunicationWork> start_average(at::Tensor flat,
                                                   const std::string& what) override {
    return std::make_unique<MpiWork>(group_, std::move(flat), what);
  }
  void broadcast(at::Tensor flat, int root, const std::string& what) override {
    at::Tensor host = flat.is_cpu() ? flat : flat.to(at::kCPU);
    group_.broadcast(host.data_ptr(), static_cast<std::size_t>(host.nbytes()), root, what);
    if (!flat.is_cpu()) flat.copy_(host);
  }

 private:
  ProcessGroup& group_;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(ProcessGroup& group) {
  return std::make_unique<MpiCommunicator>(group);
}

}  // namespace fer
