#pragma once
// The training configuration: every key fer-train understands, with its default and
// meaning. YAML files under configs/ set any subset; `--set section.key=value`
// overrides any key on the command line. Unknown keys and wrong types are errors that
// name the key (and the file) and list the valid keys. No LibTorch here.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "config/choices.hpp"

namespace fer {

struct ModelConfig {
  std::vector<int> channels = {32, 64, 128};  // output channels of each CNN stage
  int convs_per_stage = 2;   // [conv3x3 -> BatchNorm -> ReLU] x k, then 2x2 max-pool
  double cnn_dropout = 0.1;  // dropout after each stage's pool
  SequenceLayout sequence = SequenceLayout::kRows;  // rows | columns | raster
  RnnCell rnn = RnnCell::kLstm;  // lstm | gru | none (the CNN alone: steps pooled directly)
  int rnn_layers = 1;
  int rnn_hidden = 128;
  bool bidirectional = true;
  double rnn_dropout = 0.0;          // between RNN layers (needs rnn_layers > 1)
  Pooling pooling = Pooling::kMean;  // last | mean | attention
  double head_dropout = 0.3;         // before the final linear layer
};

struct DataConfig {
  std::string shards = "shards/synth";  // shard directory made by fer-shard
  int batch_size = 64;                  // per rank
  int loader_threads = 1;               // background threads that read and augment
  int prefetch_batches = 4;             // batches prepared ahead of the model
  int eval_batch_size = 256;
  std::int64_t limit_train_images = 0;  // 0: all; else only the first N of the epoch order
  std::int64_t limit_val_images = 0;    // 0: all
};

struct AugmentConfig {
  double scale_probability = 0.5;  // random resized crop
  double scale_min = 0.8;
  double scale_max = 1.2;
  double translate_probability = 0.5;
  double translate_pixels = 4;    // up to +- this many pixels
  double flip_probability = 0.5;  // horizontal flip
  double rotate_probability = 0.5;
  double rotate_degrees = 10;        // up to +- this many degrees
  double erase_probability = 0.25;   // random erasing of one rectangle
  double erase_max_fraction = 0.15;  // largest erased area as a fraction of the image
  double blur_probability = 0.0;     // random Gaussian blur (training)
  double blur_sigma_max = 1.5;       // its sigma is drawn from [0.3, blur_sigma_max] pixels
  int crop_size = 0;                 // 0: train on 48x48; e.g. 40: random 40x40 crops
  EvalTta eval_tta =
      EvalTta::kNone;            // none | flip | shifts | tencrop (tencrop needs crop_size > 0)
  double eval_blur_sigma = 0.0;  // Gaussian blur of evaluation/prediction inputs, to match a
                                 // training set blurrier than the images seen later
};

// Side of the images the model sees: crop_size, or 48 without cropping. The model, its
// checkpoint and the input pipeline all take their input size from here.
int model_input_size(const AugmentConfig& config);

struct OptimConfig {
  OptimizerKind optimizer = OptimizerKind::kSgd;  // sgd (Nesterov momentum) | adamw
  double lr = 0.01;
  double momentum = 0.9;
  bool nesterov = true;
  double weight_decay = 1e-4;
  double beta1 = 0.9;    // adamw
  double beta2 = 0.999;  // adamw
  double label_smoothing = 0.0;
  bool class_weights = false;  // weight the loss by inverse class frequency (from the manifest)
  double class_weight_power = 1.0;  // class weight = (1 / frequency)^power; 0.5: square root
  double grad_clip_norm = 0.0;      // 0: off
  int accumulation_steps = 1;       // micro-batches of data.batch_size per optimizer step
};

struct ScheduleConfig {
  ScheduleKind kind =
      ScheduleKind::kCosine;  // cosine (warmup, then cosine) | plateau | step | constant
  double warmup_epochs = 1;   // linear warmup from lr * warmup_start_factor
  double warmup_start_factor = 0.1;
  double min_lr = 0.0;           // cosine floor and plateau floor
  double plateau_factor = 0.75;  // plateau: lr *= factor after `patience` epochs without val gain
  int plateau_patience = 5;
  int step_epochs = 30;  // step: lr *= step_gamma every step_epochs
  double step_gamma = 0.1;
};

struct TrainLoopConfig {
  int epochs = 30;
  std::uint64_t seed = 1;
  DeviceChoice device = DeviceChoice::kAuto;  // auto | cpu | cuda
  int threads = 0;  // intra-op threads per process; 0: cores / local ranks
  bool deterministic =
      false;        // bit-reproducible on CPU (single thread, no nondeterministic kernels)
  bool amp = true;  // bf16 autocast on CUDA (ignored on CPU)
  bool channels_last = true;                    // channels-last tensors on CUDA (ignored on CPU)
  CpuKernels cpu_kernels = CpuKernels::kFused;  // CPU training: fused (src/kernels) | aten
  // fused kernels' convolutions: f32 | bf16 (native bf16 needed) | auto (bf16 where native)
  CpuTrainPrecision cpu_precision = CpuTrainPrecision::kF32;
  int early_stopping_patience = 0;  // 0: off; else stop after N epochs without val-accuracy gain
  double time_budget_minutes = 0;   // 0: off; else epochs (and the schedule) fitted to it
  int log_every_steps = 50;         // progress lines when stdout is not a terminal
};

struct CheckpointConfig {
  std::string dir = "checkpoints";                    // runs go to <dir>/<run>/
  int keep_last = 3;                                  // the most recent epoch checkpoints kept
  int keep_best = 1;                                  // and the best ones by best_metric
  BestMetric best_metric = BestMetric::kValAccuracy;  // val_accuracy | val_macro_f1 | val_loss
  int every_epochs = 1;
  // A checkpoint that was not stored ends the run with exit code 1 either way; "stop"
  // ends it at the end of that epoch, "continue" trains on (later ones may succeed).
  StoreFailurePolicy on_store_failure = StoreFailurePolicy::kStop;
};

// Where the job's metrics and checkpoints go: the coordinator service (src/coord).
struct CoordinatorConfig {
  std::string address;          // "": embedded in rank 0; else host:port of a fer-coordinator
  std::string token_file;       // shared secret ("": FER_COORD_TOKEN, if set)
  std::string listen = "auto";  // embedded: auto (loopback on one node) | an address
  int port = 0;                 // embedded: 0 any free port
  int http_port = 0;            // embedded status page: 0 any free port (printed), -1 off
  double connect_timeout_seconds = 60;  // rank 0 must reach it at start within this
  double flush_timeout_seconds = 300;   // at the end: wait this long for acknowledgements
  double eval_deadline_seconds = 300;   // a rank's missing eval report is reported after this
};

struct DistConfig {
  DistBackend backend = DistBackend::kAuto;  // auto (nccl for CUDA, mpi for CPU) | nccl | mpi
  double timeout_seconds = 300;              // deadline of every wait on another rank
  // A rank whose heartbeats (a thread of its own, every 5 s) stop for this long is
  // stopped or frozen, not slow: the ranks waiting for it end the job then. 0: off.
  double stall_seconds = 30;
  double bucket_mb = 25;       // gradient bucket size (float32 MB)
  double first_bucket_mb = 1;  // first bucket (last layers), small so reduction starts early
  bool overlap = true;         // start each bucket's all-reduce during backward
  Compression compression = Compression::kNone;  // none | bf16 | fp16 on the wire (nccl only)
  bool scale_lr = true;  // optim.lr *= global batch / data.batch_size (linear scaling rule)
};

struct TrainConfig {
  ModelConfig model;
  DataConfig data;
  AugmentConfig augment;
  OptimConfig optim;
  ScheduleConfig schedule;
  TrainLoopConfig train;
  CheckpointConfig checkpoint;
  DistConfig dist;
  CoordinatorConfig coordinator;
};

// Applies a YAML file on top of `config` (keys absent from the file keep their value).
// Throws InputError naming the file, the key and what was expected.
void apply_config_file(TrainConfig& config, const std::filesystem::path& yaml_file);
// Applies YAML text (for tests and for configs stored in checkpoints); `origin` names
// it in messages.
void apply_config_text(TrainConfig& config, const std::string& yaml_text,
                       const std::string& origin);
// Applies one override "section.key=value" (value in YAML syntax: 0.02, true, [32, 64]).
void apply_override(TrainConfig& config, const std::string& assignment);
// Checks cross-key constraints (choices, ranges); throws InputError naming the key.
void validate(const TrainConfig& config);

// The whole configuration as YAML (every key, in schema order): printed at start and
// stored in checkpoints; apply_config_text(to_yaml(c)) reproduces c exactly.
std::string to_yaml(const TrainConfig& config);
// Every key with its type, default and meaning (fer-train --help-config).
std::string config_reference();

}  // namespace fer
