#include "common/parallel.hpp"

#include <sched.h>

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

namespace fer {

unsigned default_thread_count() {
  return std::max(1u, std::thread::hardware_concurrency());
}

int threads_per_process(int configured, int processes_on_node) {
  if (configured > 0) return configured;
  const int online = static_cast<int>(default_thread_count());
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_COUNT(&allowed) < online)
    return std::max(1, CPU_COUNT(&allowed));
  return std::max(1, online / std::max(1, processes_on_node));
}

void parallel_for(std::size_t count, unsigned threads,
                  const std::function<void(std::size_t, std::size_t)>& body) {
  threads = std::max(
      1u, std::min<unsigned>(threads, static_cast<unsigned>(std::max<std::size_t>(count, 1))));
  if (threads == 1) {
    body(0, count);
    return;
  }
  std::vector<std::exception_ptr> errors(threads);
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (unsigned t = 0; t < threads; ++t) {
    std::size_t begin = count * t / threads;
    std::size_t end = count * (t + 1) / threads;
    workers.emplace_back([&, t, begin, end] {
      try {
        body(begin, end);
      } catch (...) {
        errors[t] = std::current_exception();
      }
    });
  }
  for (auto& worker : workers) worker.join();
  for (auto& error : errors)
    if (error) std::rethrow_exception(error);
}

}  // namespace fer
