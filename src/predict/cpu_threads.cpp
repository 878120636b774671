#include "predict/cpu_threads.hpp"

#include <algorithm>
#include <opencv2/core.hpp>

#include "common/blas_threads.hpp"

namespace fer {

void configure_cpu_threads(int threads, int blas_threads) {
  cv::setNumThreads(std::max(1, threads));
  set_blas_threads(blas_threads);
}

}  // namespace fer
