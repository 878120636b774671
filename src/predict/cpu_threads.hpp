#pragma once
// The CPU thread pools fer-predict runs on, set in one place. Three pools meet in one
// process: LibTorch's intra-op threads (OpenMP; set by EmotionClassifier), OpenCV's
// (TBB: face detection, resizing) and OpenBLAS's own pthreads (LibTorch sends the
// LSTM's and the linear layer's matrix products to the system BLAS). OpenBLAS's
// workers busy-wait between calls; beside the other two pools on a small machine they
// steal the cores the convolutions and the detector need. Inference matrix products
// are small, so OpenBLAS runs single-threaded here (measured on 2 cores with
// configs/bench.yaml: see tests/bench/bench_predict.sh).

namespace fer {

// OpenCV's threads = `threads` (>= 1); OpenBLAS's = `blas_threads` (when OpenBLAS is
// the BLAS in use; nothing otherwise).
void configure_cpu_threads(int threads, int blas_threads = 1);

}  // namespace fer
