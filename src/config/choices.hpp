#pragma once
// The closed sets of values of the training configuration (model.rnn, augment.eval_tta,
// dist.compression, ...) as enums, with their names for YAML, --set, the command line and
// messages (common/choice.hpp). The YAML reader turns a name into its enum once, at the
// config boundary, and refuses any other name; past it, code switches on values.
// No LibTorch here.

#include <array>
#include <string_view>

#include "common/choice.hpp"
#include "metrics/best_metric.hpp"

namespace fer {

// model.sequence: how the CNN feature map becomes the RNN's sequence.
enum class SequenceLayout { kRows, kColumns, kRaster };
// model.rnn: the recurrent cell; kNone is the CNN alone (steps pooled directly).
enum class RnnCell { kLstm, kGru, kNone };
// model.pooling: how the RNN outputs become one vector.
enum class Pooling { kLast, kMean, kAttention };
// augment.eval_tta / fer-eval --tta: the views scored per image.
enum class EvalTta { kNone, kFlip, kShifts, kTencrop };
// optim.optimizer
enum class OptimizerKind { kSgd, kAdamw };
// schedule.kind
enum class ScheduleKind { kCosine, kPlateau, kStep, kConstant };
// train.device, --device: where tensors live (auto: CUDA when this LibTorch has it).
enum class DeviceChoice { kAuto, kCpu, kCuda };
// train.cpu_kernels: the CNN's CPU training kernels.
enum class CpuKernels { kFused, kAten };
// train.cpu_precision: the arithmetic of the fused CPU training kernels' convolutions.
// bf16: bfloat16 inputs, weights and gradients with float accumulation (about twice as
// fast where the CPU has AVX512-BF16 or AMX); auto: bf16 where the CPU has it, else f32.
enum class CpuTrainPrecision { kF32, kBf16, kAuto };
// checkpoint.best_metric: BestMetric, in metrics/best_metric.hpp (the coordinator shares it).
// checkpoint.on_store_failure
enum class StoreFailurePolicy { kStop, kContinue };
// dist.backend: who all-reduces gradients (auto: nccl for CUDA tensors, mpi otherwise).
enum class DistBackend { kAuto, kNccl, kMpi };
// dist.compression: the element type of gradient buckets on the wire.
enum class Compression { kNone, kBf16, kFp16 };
// fer-eval / fer-predict / fer-serve --precision: the arithmetic of the CPU inference
// kernels' convolutions. f32 equals LibTorch's layers within 1e-5; bf16 (bfloat16 inputs
// and weights, float accumulation) runs about twice as fast on CPUs with AVX512-BF16.
enum class InferencePrecision { kF32, kBf16 };
inline constexpr const char* kInferencePrecisionHelp =
    "Inference arithmetic on CPU: f32 (default; equals LibTorch within 1e-5) | bf16 (about 2x "
    "faster; needs AVX512-BF16, e.g. Zen 4)";

template <>
struct ChoiceNames<SequenceLayout> {
  static constexpr std::array<std::string_view, 3> names{"rows", "columns", "raster"};
};
template <>
struct ChoiceNames<RnnCell> {
  static constexpr std::array<std::string_view, 3> names{"lstm", "gru", "none"};
};
template <>
struct ChoiceNames<Pooling> {
  static constexpr std::array<std::string_view, 3> names{"last", "mean", "attention"};
};
template <>
struct ChoiceNames<EvalTta> {
  static constexpr std::array<std::string_view, 4> names{"none", "flip", "shifts", "tencrop"};
};
template <>
struct ChoiceNames<OptimizerKind> {
  static constexpr std::array<std::string_view, 2> names{"sgd", "adamw"};
};
template <>
struct ChoiceNames<ScheduleKind> {
  static constexpr std::array<std::string_view, 4> names{"cosine", "plateau", "step", "constant"};
};
template <>
struct ChoiceNames<DeviceChoice> {
  static constexpr std::array<std::string_view, 3> names{"auto", "cpu", "cuda"};
};
template <>
struct ChoiceNames<CpuKernels> {
  static constexpr std::array<std::string_view, 2> names{"fused", "aten"};
};
template <>
struct ChoiceNames<CpuTrainPrecision> {
  static constexpr std::array<std::string_view, 3> names{"f32", "bf16", "auto"};
};
template <>
struct ChoiceNames<StoreFailurePolicy> {
  static constexpr std::array<std::string_view, 2> names{"stop", "continue"};
};
template <>
struct ChoiceNames<DistBackend> {
  static constexpr std::array<std::string_view, 3> names{"auto", "nccl", "mpi"};
};
template <>
struct ChoiceNames<Compression> {
  static constexpr std::array<std::string_view, 3> names{"none", "bf16", "fp16"};
};
template <>
struct ChoiceNames<InferencePrecision> {
  static constexpr std::array<std::string_view, 2> names{"f32", "bf16"};
};

}  // namespace fer
