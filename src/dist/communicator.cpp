#include "dist/communicator.hpp"

#include "common/error.hpp"
#include "dist/communicator_backends.hpp"

namespace fer {

std::string resolve_backend(const std::string& wanted, const c10::Device& device) {
  if (wanted != "auto") return wanted;
#ifdef FER_HAVE_NCCL
  if (device.is_cuda()) return "nccl";
#endif
  (void)device;
  return "mpi";
}

std::unique_ptr<Communicator> make_communicator(const std::string& backend, ProcessGroup& group,
                                                const c10::Device& device) {
  const std::string chosen = resolve_backend(backend, device);
  if (chosen == "mpi") return make_mpi_communicator(group);
  if (chosen != "nccl")
    throw InputError("dist.backend: '" + chosen + "' is not a backend; choose auto, nccl or mpi");
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
