// Linked into the executables that run LibTorch (fer-train, fer-eval, fer-predict)
// together with jemalloc (see src/apps/CMakeLists.txt). glibc hands the large
// per-step tensors back to the OS and then pays ~12 us per 4 KiB page to fault them in
// again on these VMs; jemalloc with decay disabled keeps and reuses them (measured:
// 124 -> 150 images/s for configs/bench.yaml on 2 threads; batch-1 inference ~10x
// faster).
extern "C" {
// NOLINTNEXTLINE: the name and type are jemalloc's documented configuration hook.
const char* malloc_conf = "dirty_decay_ms:-1,muzzy_decay_ms:-1";
}
