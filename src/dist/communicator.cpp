#include "dist/communicator.hpp"

#include "common/error.hpp"
#include "dist/communicator_backends.hpp"

namespace fer {

DistBackend resolve_backend(DistBackend wanted, const c10::Device& device) {
  if (wanted != DistBackend::kAuto) return wanted;
#ifdef FER_HAVE_NCCL
  if (device.is_cuda()) return DistBackend::kNccl;
#endif
  (void)device;
  return DistBackend::kMpi;
}

std::unique_ptr<Communicator> make_communicator(DistBackend backend, ProcessGroup& group,
                                                const c10::Device& device) {
  if (resolve_backend(backend, device) == DistBackend::kMpi) return make_mpi_communicator(group);
#ifdef FER_HAVE_NCCL
  if (!device.is_cuda())
    throw InputError(
        "dist.backend = nccl reduces CUDA tensors, but this process trains on the CPU (no CUDA "
        "device is usable by this LibTorch, or train.device = cpu); use dist.backend = mpi or "
        "auto");
  return make_nccl_communicator(group, device.index() < 0 ? 0 : device.index());
#else
  throw InputError(
      "dist.backend = nccl, but this build has no NCCL (CMake found none; see the configure "
      "summary, FER_WITH_NCCL); use dist.backend = mpi or auto");
#endif
}

}  // namespace fer
