#pragma once
// LibTorch (Debian's build) sends matrix products (LSTM, linear layers) to the system
// BLAS, OpenBLAS here, which runs its own pthreads: by default one per core in every
// process, busy-waiting between calls. Each tool sets their number explicitly.

namespace fer {

// OpenBLAS's threads = `threads` (>= 1), when OpenBLAS is the BLAS in use (looked up
// at run time: the system chooses libblas.so.3); nothing otherwise.
void set_blas_threads(int threads);

}  // namespace fer
