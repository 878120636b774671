#pragma once
// A minimal static parallel-for: [0, count) split into contiguous blocks, one per
// thread. Exceptions from workers are rethrown in the caller (the first one).

#include <cstddef>
#include <functional>

namespace fer {

// Threads to use by default: the hardware's, at least 1.
unsigned default_thread_count();

void parallel_for(std::size_t count, unsigned threads,
                  const std::function<void(std::size_t begin, std::size_t end)>& body);

}  // namespace fer
