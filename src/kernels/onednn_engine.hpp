#pragma once
// The one oneDNN CPU engine the kernels share (creating an engine per call would cost
// more than a small layer). Internal to src/kernels.

#include <dnnl.hpp>

namespace fer::kernels {

dnnl::engine& onednn_cpu_engine();

}  // namespace fer::kernels
