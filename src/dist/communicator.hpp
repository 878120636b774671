#pragma once
// How gradient bytes move between ranks (the "ops" side, as in Horovod; which
// tensors to reduce and when is GradientBucketer's business). Two backends, chosen
// by dist.backend:
//   mpi   CPU tensors: non-blocking MPI_Iallreduce through the ProcessGroup (CUDA
//         tensors are staged through host memory).
//   nccl  CUDA tensors: one NCCL communicator per job (ncclUniqueId from rank 0 over
//         MPI), reductions on a dedicated CUDA stream ordered after the compute
//         stream with events; waits poll ncclCommGetAsyncError and the deadline.

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <memory>
#include <string>

#include "config/choices.hpp"
#include "dist/process_group.hpp"

namespace fer {

// A started reduction. wait() completes it (or throws DistributedError at the
// deadline); test() only asks.
class CommunicationWork {
 public:
  virtual ~CommunicationWork() = default;
  virtual bool test() = 0;
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual std::string describe() const = 0;  // "mpi", "nccl 2.28.9 on cuda:0"
  // Whether buckets may be reduced in this element type (bf16/fp16 compression).
  virtual bool supports(at::ScalarType type) const = 0;
  // Starts an in-place reduction that leaves the mean over ranks in `flat`
  // (contiguous). `flat` must stay alive and untouched until the work completes.
  virtual std::unique_ptr<CommunicationWork> start_average(at::Tensor flat,
                                                           const std::string& what) = 0;
  // Copies rank `root`'s `flat` (contiguous) to every rank; blocking.
  virtual void broadcast(at::Tensor flat, int root, const std::string& what) = 0;
};

// auto -> nccl for a CUDA device when this build has NCCL, mpi otherwise; never kAuto.
DistBackend resolve_backend(DistBackend wanted, const c10::Device& device);
// Throws InputError when the backend cannot serve `device` (nccl on a CPU, or a build
// without NCCL), naming what is missing.
std::unique_ptr<Communicator> make_communicator(DistBackend backend, ProcessGroup& group,
                                                const c10::Device& device);

}  // namespace fer
