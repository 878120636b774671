// The owner of the shared precompiled <torch/torch.h> (see fer_use_torch_pch in the top
// CMakeLists.txt): CMake builds the header for this target, and the targets that compile
// LibTorch code reuse it. The file itself has nothing to compile.
