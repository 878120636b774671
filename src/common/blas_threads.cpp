#include "common/blas_threads.hpp"

#include <dlfcn.h>

#include <algorithm>

namespace fer {

void set_blas_threads(int threads) {
  using SetThreads = void (*)(int);
  if (auto* set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
    set(std::max(1, threads));
}

}  // namespace fer
