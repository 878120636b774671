#include "config/config_registry.hpp"

#include "data/emotions.hpp"  // kImageSide (constants only: nothing to link)

namespace fer::config_detail {

namespace {

Bounds at_least(double low) {
  return {low, true};
}
Bounds above(double low) {
  return {low, false};
}
Bounds closed(double low, double high) {
  return {low, true, high, true};
}
Bounds closed_open(double low, double high) {
  return {low, true, high, false};
}
Bounds open_closed(double low, double high) {
  return {low, false, high, true};
}
Bounds open(double low, double high) {
  return {low, false, high, false};
}
Bounds zero_or(Bounds bounds) {
  bounds.zero_allowed = true;
  return bounds;
}

// code-shape: table
std::vector<Field> build_registry() {
  std::vector<Field> fields;
  const Constraint probability = closed(0, 1);
  const Constraint dropout = closed_open(0, 1);
  const Constraint positive_count = at_least(1);
  const Constraint count_or_off = at_least(0);

  SectionBuilder(fields, "model", &TrainConfig::model)
      .add("channels", &ModelConfig::channels, "output channels of each CNN stage", positive_count)
      .add("convs_per_stage", &ModelConfig::convs_per_stage,
           "[conv3x3 -> BatchNorm -> ReLU] x k per stage, then 2x2 max-pool", positive_count)
      .add("cnn_dropout", &ModelConfig::cnn_dropout, "dropout after each stage's pool", dropout)
      .add("sequence", &ModelConfig::sequence, "how the feature map becomes a sequence")
      .add("rnn", &ModelConfig::rnn,
           "recurrent cell; none: the CNN alone, its sequence steps pooled directly")
      .add("rnn_layers", &ModelConfig::rnn_layers, "stacked RNN layers", positive_count)
      .add("rnn_hidden", &ModelConfig::rnn_hidden, "hidden units per RNN direction", positive_count)
      .add("bidirectional", &ModelConfig::bidirectional, "run the RNN in both directions")
      .add("rnn_dropout", &ModelConfig::rnn_dropout,
           "dropout between RNN layers (needs rnn_layers > 1)", dropout)
      .add("pooling", &ModelConfig::pooling, "how the RNN outputs become one vector")
      .add("head_dropout", &ModelConfig::head_dropout, "dropout before the final linear layer",
           dropout);

  SectionBuilder(fields, "data", &TrainConfig::data)
      .add("shards", &DataConfig::shards, "shard directory made by fer-shard")
      .add("batch_size", &DataConfig::batch_size, "training batch size per rank", positive_count)
      .add("loader_threads", &DataConfig::loader_threads,
           "background threads that read and augment", positive_count)
      .add("prefetch_batches", &DataConfig::prefetch_batches, "batches prepared ahead of the model",
           positive_count)
      .add("eval_batch_size", &DataConfig::eval_batch_size, "batch size for evaluation",
           positive_count)
      .add("limit_train_images", &DataConfig::limit_train_images,
           "0: all; else only the first N of the epoch order", count_or_off)
      .add("limit_val_images", &DataConfig::limit_val_images,
           "0: all; else only the first N validation images", count_or_off);

  SectionBuilder(fields, "augment", &TrainConfig::augment)
      .add("scale_probability", &AugmentConfig::scale_probability,
           "probability of a random resized crop", probability)
      .add("scale_min", &AugmentConfig::scale_min, "smallest scale of the random resized crop",
           above(0))
      .add("scale_max", &AugmentConfig::scale_max, "largest scale of the random resized crop",
           above(0))
      .add("translate_probability", &AugmentConfig::translate_probability,
           "probability of a random shift", probability)
      .add("translate_pixels", &AugmentConfig::translate_pixels,
           "largest shift, up to +- this many pixels", at_least(0))
      .add("flip_probability", &AugmentConfig::flip_probability, "probability of a horizontal flip",
           probability)
      .add("rotate_probability", &AugmentConfig::rotate_probability,
           "probability of a random rotation", probability)
      .add("rotate_degrees", &AugmentConfig::rotate_degrees,
           "largest rotation, up to +- this many degrees", closed(0, 180))
      .add("erase_probability", &AugmentConfig::erase_probability,
           "probability of erasing one random rectangle", probability)
      .add("erase_max_fraction", &AugmentConfig::erase_max_fraction,
           "largest erased area as a fraction of the image", probability)
      .add("blur_probability", &AugmentConfig::blur_probability,
           "probability of a random Gaussian blur", probability)
      .add("blur_sigma_max", &AugmentConfig::blur_sigma_max,
           "largest sigma (pixels) of the random blur; drawn from [0.3, max]", closed(0.3, 10))
      .add("crop_size", &AugmentConfig::crop_size, "0: train on 48x48; e.g. 40: random 40x40 crops",
           zero_or(closed(16, 48)))
      .add("eval_tta", &AugmentConfig::eval_tta,
           "test-time augmentation: none, flip (+ mirror), shifts (+ 2-pixel shifts, 10 views), "
           "tencrop (corner crops, needs crop_size > 0)")
      .add("eval_blur_sigma", &AugmentConfig::eval_blur_sigma,
           "Gaussian blur (sigma, pixels) of evaluation and prediction inputs, to match a training "
           "set "
           "that is blurrier than the images the model will see (fer-shard reports sharpness); 0: "
           "off",
           closed(0, 10));

  SectionBuilder(fields, "optim", &TrainConfig::optim)
      .add("optimizer", &OptimConfig::optimizer, "sgd (momentum, see nesterov) or adamw")
      .add("lr", &OptimConfig::lr, "peak learning rate", above(0))
      .add("momentum", &OptimConfig::momentum, "sgd momentum", closed_open(0, 1))
      .add("nesterov", &OptimConfig::nesterov, "sgd: Nesterov momentum")
      .add("weight_decay", &OptimConfig::weight_decay, "weight decay (decoupled for adamw)",
           at_least(0))
      .add("beta1", &OptimConfig::beta1, "adamw: first-moment decay", closed_open(0, 1))
      .add("beta2", &OptimConfig::beta2, "adamw: second-moment decay", closed_open(0, 1))
      .add("label_smoothing", &OptimConfig::label_smoothing,
           "share of the target spread over all classes", closed_open(0, 1))
      .add("class_weights", &OptimConfig::class_weights,
           "weight the loss by inverse class frequency (from the manifest)")
      .add("class_weight_power", &OptimConfig::class_weight_power,
           "with class_weights: weight = (1 / frequency)^power; 1: inverse frequency, 0.5: its "
           "square root (milder)",
           open_closed(0, 1))
      .add("grad_clip_norm", &OptimConfig::grad_clip_norm,
           "clip the global gradient norm to this; 0: off", at_least(0))
      .add("accumulation_steps", &OptimConfig::accumulation_steps,
           "micro-batches of data.batch_size accumulated per optimizer step (gradients are "
           "all-reduced on the last one only)",
           positive_count);

  SectionBuilder(fields, "schedule", &TrainConfig::schedule)
      .add("kind", &ScheduleConfig::kind,
           "learning-rate schedule (cosine: linear warmup, then cosine)")
      .add("warmup_epochs", &ScheduleConfig::warmup_epochs,
           "linear warmup from lr * warmup_start_factor", at_least(0))
      .add("warmup_start_factor", &ScheduleConfig::warmup_start_factor,
           "warmup starts at lr * this", closed(0, 1))
      .add("min_lr", &ScheduleConfig::min_lr, "cosine floor and plateau floor", at_least(0))
      .add("plateau_factor", &ScheduleConfig::plateau_factor,
           "plateau: lr *= factor after `patience` epochs without val gain", open(0, 1))
      .add("plateau_patience", &ScheduleConfig::plateau_patience,
           "plateau: epochs without val gain before lowering lr", count_or_off)
      .add("step_epochs", &ScheduleConfig::step_epochs, "step: lr *= step_gamma every step_epochs",
           positive_count)
      .add("step_gamma", &ScheduleConfig::step_gamma, "step: factor applied every step_epochs",
           open_closed(0, 1));

  SectionBuilder(fields, "train", &TrainConfig::train)
      .add("epochs", &TrainLoopConfig::epochs, "passes over the training set", positive_count)
      .add("seed", &TrainLoopConfig::seed, "seed for initialisation, shuffling and augmentation")
      .add("device", &TrainLoopConfig::device, "where to train (auto: cuda when available)")
      .add("threads", &TrainLoopConfig::threads,
           "intra-op threads per process; 0: cores / local ranks", count_or_off)
      .add("deterministic", &TrainLoopConfig::deterministic,
           "bit-reproducible on CPU (single thread, no nondeterministic kernels)")
      .add("amp", &TrainLoopConfig::amp, "bf16 autocast on CUDA (ignored on CPU)")
      .add("channels_last", &TrainLoopConfig::channels_last,
           "channels-last tensors on CUDA (ignored on CPU)")
      .add("cpu_kernels", &TrainLoopConfig::cpu_kernels,
           "CNN training kernels on CPU: fused (oneDNN, blocked layout) or aten (LibTorch's "
           "layers); same function, same checkpoints")
      .add("cpu_precision", &TrainLoopConfig::cpu_precision,
           "the fused kernels' convolutions: f32, bf16 (bfloat16 inputs, weights and "
           "gradients, float accumulation; about 2x faster, needs AVX512-BF16 or AMX) or auto "
           "(bf16 where the CPU has it)")
      .add("early_stopping_patience", &TrainLoopConfig::early_stopping_patience,
           "0: off; else stop after N epochs without val-accuracy gain", count_or_off)
      .add("time_budget_minutes", &TrainLoopConfig::time_budget_minutes,
           "0: off; else the wall-clock minutes of training + validation: the number of "
           "epochs (at most train.epochs) and the schedule's end are fitted to it from measured "
           "throughput, corrected every epoch; kept across resumes",
           closed(0, 1e6))
      .add("log_every_steps", &TrainLoopConfig::log_every_steps,
           "steps between progress lines when stdout is not a terminal", positive_count);

  SectionBuilder(fields, "checkpoint", &TrainConfig::checkpoint)
      .add("dir", &CheckpointConfig::dir, "runs go to <dir>/<run>/")
      .add("keep_last", &CheckpointConfig::keep_last, "the most recent epoch checkpoints kept",
           positive_count)
      .add("keep_best", &CheckpointConfig::keep_best,
           "also kept: the best checkpoints by best_metric (best.pt names the first)",
           positive_count)
      .add("best_metric", &CheckpointConfig::best_metric,
           "validation metric that ranks checkpoints (val_loss: lower is better)")
      .add("every_epochs", &CheckpointConfig::every_epochs, "epochs between checkpoints",
           positive_count)
      .add("on_store_failure", &CheckpointConfig::on_store_failure,
           "a checkpoint the coordinator could not store (disk full, unreachable): stop the "
           "run at once, or continue and exit 1 at the end");

  SectionBuilder(fields, "dist", &TrainConfig::dist)
      .add("backend", &DistConfig::backend,
           "gradient all-reduce: auto (nccl for CUDA tensors, mpi for CPU), nccl, mpi")
      .add("timeout_seconds", &DistConfig::timeout_seconds,
           "deadline of every wait on another rank; a rank that stalls or dies makes the others "
           "exit with its rank named after this long",
           above(0))
      .add("stall_seconds", &DistConfig::stall_seconds,
           "a rank that sends no heartbeat for this long (SIGSTOPped, frozen, its node gone; "
           "a slow step still beats) ends the job with its rank, host and last step named; "
           "0 off",
           count_or_off)
      .add("bucket_mb", &DistConfig::bucket_mb, "gradient bucket size in MB (float32)", above(0))
      .add("first_bucket_mb", &DistConfig::first_bucket_mb,
           "first bucket (the last layers' gradients): small, so communication starts early",
           above(0))
      .add("overlap", &DistConfig::overlap,
           "start each bucket's all-reduce as soon as its gradients are ready, during backward")
      .add("compression", &DistConfig::compression,
           "element type of buckets on the wire: none (float32), bf16, fp16 (nccl only)")
      .add("scale_lr", &DistConfig::scale_lr,
           "linear scaling rule: optim.lr *= ranks x optim.accumulation_steps (the global batch "
           "over data.batch_size); the warmup applies to the scaled rate");

  SectionBuilder(fields, "coordinator", &TrainConfig::coordinator)
      .add("address", &CoordinatorConfig::address,
           "'' (default): a coordinator embedded in rank 0; else host:port of a running "
           "fer-coordinator, which then keeps the metrics and checkpoints")
      .add("token_file", &CoordinatorConfig::token_file,
           "file holding the shared token ('' : the FER_COORD_TOKEN environment variable)")
      .add("listen", &CoordinatorConfig::listen,
           "embedded: address to listen on; auto: 127.0.0.1 when every rank is on rank 0's "
           "node, else all interfaces with a random per-job token")
      .add("port", &CoordinatorConfig::port, "embedded: TCP port (0: any free port)",
           closed(0, 65535))
      .add("http_port", &CoordinatorConfig::http_port,
           "embedded: status page port on 127.0.0.1 (0: any free port, printed at start; -1: off)",
           closed(-1, 65535))
      .add("connect_timeout_seconds", &CoordinatorConfig::connect_timeout_seconds,
           "rank 0 must reach the coordinator within this at start", above(0))
      .add("flush_timeout_seconds", &CoordinatorConfig::flush_timeout_seconds,
           "at the end, wait this long for the coordinator to acknowledge everything", above(0))
      .add("eval_deadline_seconds", &CoordinatorConfig::eval_deadline_seconds,
           "an evaluation still missing ranks this long after the first report is reported",
           above(0));
  return fields;
}

}  // namespace

const std::vector<Field>& registry() {
  static const std::vector<Field> fields = build_registry();
  return fields;
}

}  // namespace fer::config_detail
