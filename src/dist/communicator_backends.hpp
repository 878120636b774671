#pragma once
// The backends behind make_communicator (internal to src/dist).

#include "dist/communicator.hpp"

namespace fer {

std::unique_ptr<Communicator> make_mpi_communicator(ProcessGroup& group);
#ifdef FER_HAVE_NCCL
std::unique_ptr<Communicator> make_nccl_communicator(ProcessGroup& group, int device_index);
std::string nccl_version_text();
#endif

}  // namespace fer
