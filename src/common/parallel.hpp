#pragma once
// A minimal static parallel-for: [0, count) split into contiguous blocks, one per
// thread. Exceptions from workers are rethrown in the caller (the first one).

#include <cstddef>
#include <functional>

namespace fer {

// Threads to use by default: the hardware's, at least 1.
unsigned default_thread_count();

// Intra-op threads for one of `processes_on_node` processes sharing this node (MPI
// ranks): `configured` when > 0; else the CPUs this process may run on when a launcher
// bound it (mpirun --bind-to core already gave each rank its share), else the node's
// CPUs divided between the processes. At least 1.
int threads_per_process(int configured, int processes_on_node = 1);

void parallel_for(std::size_t count, unsigned threads,
                  const std::function<void(std::size_t begin, std::size_t end)>& body);

}  // namespace fer
