#pragma once
// Whether this CPU runs bfloat16 convolutions natively, for the inference chain
// (--precision bf16) and the training kernels (train.cpu_precision). No oneDNN types here:
// the trainer and the applications ask without including oneDNN.

#include <string>

namespace fer::kernels {

// Empty when this CPU runs bf16 convolutions natively (AVX512-BF16 or AMX, as oneDNN
// sees it, so ONEDNN_MAX_CPU_ISA counts); otherwise why not, for a one-line error.
// Defined in inference_cnn.cpp.
std::string bf16_unavailable_reason();

}  // namespace fer::kernels
