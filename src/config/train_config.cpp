#include "config/train_config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <variant>

#include "common/error.hpp"
#include "common/text.hpp"
#include "data/emotions.hpp"  // kImageSide (constants only: nothing to link)

namespace fer {
namespace {

// ---------------------------------------------------------------------------
// Values: reading from YAML nodes and writing YAML text, one overload per type.
// ---------------------------------------------------------------------------

// Where a value came from, so that every message names the origin, the line (when
// the value came from a file) and the full dotted key.
struct Site {
  std::string origin;
  std::string key;
  int line = -1;  // 0-based as yaml-cpp counts; -1 when unknown

  std::string prefix() const {
    std::string text = origin;
    if (line >= 0) text += ":" + std::to_string(line + 1);
    return text + ": " + key + ": ";
  }
};

int line_of(const YAML::Node& node) {
  return node.Mark().line;
}

// How a node shows up in "found ..." parts of messages.
std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "no value";
}

[[noreturn]] void throw_wrong_type(const Site& site, std::string_view expected,
                                   const YAML::Node& found, std::string_view why = {}) {
  std::string message =
      site.prefix() + "expected " + std::string(expected) + ", found " + describe(found);
  if (!why.empty()) message += " (" + std::string(why) + ")";
  throw InputError(message);
}

// The shortest text that reads back as exactly the same double (0.01 -> "0.01",
// 10 -> "10", 1e-4 -> "0.0001"), so to_yaml() round-trips and stays readable.
// to_chars rather than snprintf: it ignores the C locale.
std::string format_double(double value) {
  char buffer[400];
  const auto shortest = std::to_chars(buffer, buffer + sizeof buffer, value);
  std::string text(buffer, shortest.ptr);
  if (text.find('e') == std::string::npos) return text;
  // Prefer plain decimals for moderately small numbers (1e-04 -> 0.0001).
  const auto fixed = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed);
  std::string plain(buffer, fixed.ptr);
  return plain.size() <= text.size() + 3 ? plain : text;
}

// Plain YAML scalars that readers other than ours would take for booleans or null.
bool looks_like_yaml_keyword(const std::string& text) {
  static const std::set<std::string> keywords = {"null", "true", "false", "yes", "no",
                                                 "on",   "off",  "y",     "n"};
  return keywords.count(to_lower(text)) > 0;
}

std::string format_string(const std::string& value) {
  const bool plain_safe = !value.empty() && !looks_like_yaml_keyword(value) &&
                          std::isalnum(static_cast<unsigned char>(value.front())) &&
                          std::all_of(value.begin(), value.end(), [](char c) {
                            return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
                                   c == '.' || c == '/' || c == '-' || c == '+';
                          });
  if (plain_safe) return value;
  YAML::Emitter emitter;
  emitter << YAML::DoubleQuoted << value;
  return emitter.c_str();
}

std::string format_value(int value) {
  return std::to_string(value);
}
std::string format_value(std::int64_t value) {
  return std::to_string(value);
}
std::string format_value(std::uint64_t value) {
  return std::to_string(value);
}
std::string format_value(double value) {
  return format_double(value);
}
std::string format_value(bool value) {
  return value ? "true" : "false";
}
std::string format_value(const std::string& value) {
  return format_string(value);
}
std::string format_value(const std::vector<int>& values) {
  std::string text = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(values[i]);
  }
  return text + "]";
}

std::string_view type_name(const int*) {
  return "int";
}
std::string_view type_name(const std::int64_t*) {
  return "int64";
}
std::string_view type_name(const std::uint64_t*) {
  return "uint64";
}
std::string_view type_name(const double*) {
  return "float";
}
std::string_view type_name(const bool*) {
  return "bool";
}
std::string_view type_name(const std::string*) {
  return "string";
}
std::string_view type_name(const std::vector<int>*) {
  return "[int]";
}

const std::string& require_scalar(const YAML::Node& node, const Site& site,
                                  std::string_view expected) {
  if (!node.IsScalar()) throw_wrong_type(site, expected, node);
  return node.Scalar();
}

template <typename Integer>
Integer parse_integer(const YAML::Node& node, const Site& site, std::string_view expected) {
  std::string_view text = require_scalar(node, site, expected);
  // from_chars rejects a leading '+', which YAML allows.
  if (text.size() > 1 && text.front() == '+') text.remove_prefix(1);
  Integer value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error == std::errc::result_out_of_range)
    throw_wrong_type(site, expected, node, "out of range");
  if (error != std::errc() || end != text.data() + text.size())
    throw_wrong_type(site, expected, node);
  return value;
}

void read_value(const YAML::Node& node, const Site& site, int& target) {
  target = parse_integer<int>(node, site, "an int");
}

void read_value(const YAML::Node& node, const Site& site, std::int64_t& target) {
  target = parse_integer<std::int64_t>(node, site, "an int64");
}

void read_value(const YAML::Node& node, const Site& site, std::uint64_t& target) {
  target = parse_integer<std::uint64_t>(node, site, "a non-negative integer (uint64)");
}

void read_value(const YAML::Node& node, const Site& site, double& target) {
  constexpr std::string_view kExpected = "a number (float)";
  std::string_view text = require_scalar(node, site, kExpected);
  if (text.size() > 1 && text.front() == '+') text.remove_prefix(1);
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error == std::errc::result_out_of_range)
    throw_wrong_type(site, kExpected, node, "out of range");
  if (error != std::errc() || end != text.data() + text.size())
    throw_wrong_type(site, kExpected, node);
  // Infinities and NaN would slip through every range check and never compare equal.
  if (!std::isfinite(value)) throw_wrong_type(site, kExpected, node, "not finite");
  target = value;
}

void read_value(const YAML::Node& node, const Site& site, bool& target) {
  constexpr std::string_view kExpected = "true or false (bool)";
  // The YAML 1.1 spellings yaml-cpp itself accepts, so hand-written files behave as
  // users of other YAML tools expect.
  const std::string text = to_lower(require_scalar(node, site, kExpected));
  if (text == "true" || text == "yes" || text == "on") {
    target = true;
  } else if (text == "false" || text == "no" || text == "off") {
    target = false;
  } else {
    throw_wrong_type(site, kExpected, node);
  }
}

void read_value(const YAML::Node& node, const Site& site, std::string& target) {
  target = require_scalar(node, site, "a string");
}

void read_value(const YAML::Node& node, const Site& site, std::vector<int>& target) {
  if (!node.IsSequence()) throw_wrong_type(site, "a list of ints such as [32, 64]", node);
  std::vector<int> values;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    Site item_site = site;
    item_site.key += "[" + std::to_string(i) + "]";
    item_site.line = line_of(item);
    values.push_back(parse_integer<int>(item, item_site, "an int"));
  }
  target = std::move(values);
}

// ---------------------------------------------------------------------------
// Constraints checked by validate() and shown by config_reference().
// ---------------------------------------------------------------------------

struct Bounds {
  double low = -std::numeric_limits<double>::infinity();
  bool low_inclusive = true;
  double high = std::numeric_limits<double>::infinity();
  bool high_inclusive = true;
  bool zero_allowed = false;  // "0: off" keys whose other values have a range

  bool contains(double value) const {
    if (zero_allowed && value == 0) return true;
    // Written so that NaN fails every check.
    const bool above_low = low_inclusive ? value >= low : value > low;
    const bool below_high = high_inclusive ? value <= high : value < high;
    return above_low && below_high;
  }

  std::string describe() const {
    std::string text;
    if (std::isinf(high)) {
      text = (low_inclusive ? ">= " : "> ") + format_double(low);
    } else {
      text = std::string(low_inclusive ? "[" : "(") + format_double(low) + ", " +
             format_double(high) + (high_inclusive ? "]" : ")");
    }
    return zero_allowed ? "0 or " + text : text;
  }
};

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

struct Constraint {
  std::optional<Bounds> bounds;      // numbers; for lists, every item
  std::vector<std::string> choices;  // strings

  Constraint() = default;
  Constraint(Bounds range) : bounds(range) {}             // NOLINT: implicit keeps the table short
  Constraint(std::initializer_list<const char*> allowed)  // NOLINT: as above
      : choices(allowed.begin(), allowed.end()) {}
};

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string text;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) text += separator;
    text += items[i];
  }
  return text;
}

// ---------------------------------------------------------------------------
// The registry: every key, once. All public functions walk this table.
// ---------------------------------------------------------------------------

using ValueRef = std::variant<int*, std::int64_t*, std::uint64_t*, double*, bool*, std::string*,
                              std::vector<int>*>;
using ConstValueRef =
    std::variant<const int*, const std::int64_t*, const std::uint64_t*, const double*, const bool*,
                 const std::string*, const std::vector<int>*>;

struct Field {
  std::string section;  // "optim"
  std::string name;     // "lr"
  std::string key;      // "optim.lr"
  std::string doc;
  Constraint constraint;
  // Both come from one pointer-to-member pair, so they cannot point at different fields.
  std::function<ValueRef(TrainConfig&)> locate;
  std::function<ConstValueRef(const TrainConfig&)> locate_const;
};

template <typename Section>
class SectionBuilder {
 public:
  SectionBuilder(std::vector<Field>& fields, std::string name, Section TrainConfig::*section)
      : fields_(fields), name_(std::move(name)), section_(section) {}

  template <typename Value>
  SectionBuilder& add(std::string name, Value Section::*member, std::string doc,
                      Constraint constraint = {}) {
    constexpr bool kIsString = std::is_same_v<Value, std::string>;
    constexpr bool kIsBool = std::is_same_v<Value, bool>;
    // Registry mistakes are programming errors; the tests build the registry, so they
    // surface there rather than as puzzling user-facing behaviour.
    if (!constraint.choices.empty() && !kIsString)
      throw std::logic_error("config registry: choices on non-string key " + name_ + "." + name);
    if (constraint.bounds && (kIsString || kIsBool))
      throw std::logic_error("config registry: bounds on non-numeric key " + name_ + "." + name);
    const auto section = section_;
    Field field;
    field.section = name_;
    field.name = name;
    field.key = name_ + "." + name;
    field.doc = std::move(doc);
    field.constraint = std::move(constraint);
    field.locate = [section, member](TrainConfig& config) -> ValueRef {
      return &(config.*section.*member);
    };
    field.locate_const = [section, member](const TrainConfig& config) -> ConstValueRef {
      return &(config.*section.*member);
    };
    fields_.push_back(std::move(field));
    return *this;
  }

 private:
  std::vector<Field>& fields_;
  std::string name_;
  Section TrainConfig::*section_;
};

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
      .add("sequence", &ModelConfig::sequence, "how the feature map becomes a sequence",
           {"rows", "columns", "raster"})
      .add("rnn", &ModelConfig::rnn, "recurrent cell", {"lstm", "gru"})
      .add("rnn_layers", &ModelConfig::rnn_layers, "stacked RNN layers", positive_count)
      .add("rnn_hidden", &ModelConfig::rnn_hidden, "hidden units per RNN direction", positive_count)
      .add("bidirectional", &ModelConfig::bidirectional, "run the RNN in both directions")
      .add("rnn_dropout", &ModelConfig::rnn_dropout,
           "dropout between RNN layers (needs rnn_layers > 1)", dropout)
      .add("pooling", &ModelConfig::pooling, "how the RNN outputs become one vector",
           {"last", "mean", "attention"})
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
           "test-time augmentation (tencrop needs crop_size > 0)", {"none", "flip", "tencrop"})
      .add("eval_blur_sigma", &AugmentConfig::eval_blur_sigma,
           "Gaussian blur (sigma, pixels) of evaluation and prediction inputs, to match a training "
           "set "
           "that is blurrier than the images the model will see (fer-shard reports sharpness); 0: "
           "off",
           closed(0, 10));

  SectionBuilder(fields, "optim", &TrainConfig::optim)
      .add("optimizer", &OptimConfig::optimizer, "sgd (momentum, see nesterov) or adamw",
           {"sgd", "adamw"})
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
      .add("grad_clip_norm", &OptimConfig::grad_clip_norm,
           "clip the global gradient norm to this; 0: off", at_least(0))
      .add("accumulation_steps", &OptimConfig::accumulation_steps,
           "micro-batches of data.batch_size accumulated per optimizer step (gradients are "
           "all-reduced on the last one only)",
           positive_count);

  SectionBuilder(fields, "schedule", &TrainConfig::schedule)
      .add("kind", &ScheduleConfig::kind,
           "learning-rate schedule (cosine: linear warmup, then cosine)",
           {"cosine", "plateau", "step", "constant"})
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
      .add("device", &TrainLoopConfig::device, "where to train (auto: cuda when available)",
           {"auto", "cpu", "cuda"})
      .add("threads", &TrainLoopConfig::threads,
           "intra-op threads per process; 0: cores / local ranks", count_or_off)
      .add("deterministic", &TrainLoopConfig::deterministic,
           "bit-reproducible on CPU (single thread, no nondeterministic kernels)")
      .add("amp", &TrainLoopConfig::amp, "bf16 autocast on CUDA (ignored on CPU)")
      .add("channels_last", &TrainLoopConfig::channels_last,
           "channels-last tensors on CUDA (ignored on CPU)")
      .add("cpu_kernels", &TrainLoopConfig::cpu_kernels,
           "CNN training kernels on CPU: fused (oneDNN, blocked layout) or aten (LibTorch's "
           "layers); same function, same checkpoints",
           {"fused", "aten"})
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
           "validation metric that ranks checkpoints (val_loss: lower is better)",
           {"val_accuracy", "val_macro_f1", "val_loss"})
      .add("every_epochs", &CheckpointConfig::every_epochs, "epochs between checkpoints",
           positive_count)
      .add("on_store_failure", &CheckpointConfig::on_store_failure,
           "a checkpoint the coordinator could not store (disk full, unreachable): stop the "
           "run at once, or continue and exit 1 at the end",
           {"stop", "continue"});

  SectionBuilder(fields, "dist", &TrainConfig::dist)
      .add("backend", &DistConfig::backend,
           "gradient all-reduce: auto (nccl for CUDA tensors, mpi for CPU), nccl, mpi",
           {"auto", "nccl", "mpi"})
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
           "element type of buckets on the wire: none (float32), bf16, fp16 (nccl only)",
           {"none", "bf16", "fp16"})
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

const std::vector<Field>& registry() {
  static const std::vector<Field> fields = build_registry();
  return fields;
}

std::vector<std::string> section_names() {
  std::vector<std::string> names;
  for (const Field& field : registry())
    if (names.empty() || names.back() != field.section) names.push_back(field.section);
  return names;
}

std::vector<std::string> keys_of(const std::string& section) {
  std::vector<std::string> names;
  for (const Field& field : registry())
    if (field.section == section) names.push_back(field.name);
  return names;
}

bool is_section(const std::string& name) {
  const auto names = section_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

const Field* find_field(const std::string& section, const std::string& name) {
  for (const Field& field : registry())
    if (field.section == section && field.name == name) return &field;
  return nullptr;
}

std::string unknown_section_message(const std::string& where, const std::string& section) {
  return where + ": unknown section '" + section +
         "'; valid sections: " + join(section_names(), ", ");
}

std::string unknown_key_message(const std::string& where, const std::string& section,
                                const std::string& name) {
  return where + ": unknown key '" + section + "." + name + "'; valid keys of " + section + ": " +
         join(keys_of(section), ", ");
}

std::string format_field(const Field& field, const TrainConfig& config) {
  return std::visit([](const auto* value) { return format_value(*value); },
                    field.locate_const(config));
}

std::string_view field_type(const Field& field, const TrainConfig& config) {
  return std::visit([](const auto* value) { return type_name(value); }, field.locate_const(config));
}

void read_field(const Field& field, TrainConfig& config, const YAML::Node& node, const Site& site) {
  std::visit([&](auto* target) { read_value(node, site, *target); }, field.locate(config));
}

std::string where(const std::string& origin, const YAML::Node& node) {
  const int line = line_of(node);
  return line >= 0 ? origin + ":" + std::to_string(line + 1) : origin;
}

std::string scalar_key(const YAML::Node& key_node, const std::string& origin,
                       const std::string& what) {
  if (!key_node.IsScalar())
    throw InputError(where(origin, key_node) + ": expected a " + what + " name, found " +
                     describe(key_node));
  return key_node.Scalar();
}

YAML::Node parse_yaml(const std::string& text, const std::string& origin) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& error) {
    std::string message = origin;
    if (error.mark.line >= 0)
      message +=
          ":" + std::to_string(error.mark.line + 1) + ":" + std::to_string(error.mark.column + 1);
    throw InputError(message + ": YAML syntax error: " + error.msg);
  }
}

void apply_section(TrainConfig& config, const std::string& section, const YAML::Node& keys,
                   const std::string& origin) {
  if (keys.IsNull()) return;  // "model:" with nothing under it
  if (!keys.IsMap())
    throw InputError(where(origin, keys) + ": " + section + ": expected a map of keys (" +
                     join(keys_of(section), ", ") + "), found " + describe(keys));
  std::set<std::string> seen;
  for (const auto& entry : keys) {
    const std::string name = scalar_key(entry.first, origin, "key");
    const Field* field = find_field(section, name);
    if (!field) throw InputError(unknown_key_message(where(origin, entry.first), section, name));
    // yaml-cpp keeps both copies of a repeated key; which one a reader honours differs
    // between tools, so refuse rather than guess.
    if (!seen.insert(name).second)
      throw InputError(where(origin, entry.first) + ": " + field->key + ": given twice");
    // The key's line, because a missing value (`lr:`) has its mark on the next line.
    read_field(*field, config, entry.second, Site{origin, field->key, line_of(entry.first)});
  }
}

std::string pad(std::string text, std::size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text;
}

}  // namespace

void apply_config_file(TrainConfig& config, const std::filesystem::path& yaml_file) {
  std::ifstream in(yaml_file, std::ios::binary);
  if (!in) throw InputError(yaml_file.string() + ": cannot open the config file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw InputError(yaml_file.string() + ": cannot read the config file");
  apply_config_text(config, text.str(), yaml_file.string());
}

void apply_config_text(TrainConfig& config, const std::string& yaml_text,
                       const std::string& origin) {
  const YAML::Node root = parse_yaml(yaml_text, origin);
  if (root.IsNull()) return;  // empty, or only comments
  if (!root.IsMap())
    throw InputError(where(origin, root) + ": expected a map of sections (" +
                     join(section_names(), ", ") + "), found " + describe(root));
  // Work on a copy so that a bad file leaves the caller's config untouched.
  TrainConfig updated = config;
  std::set<std::string> seen;
  for (const auto& entry : root) {
    const std::string section = scalar_key(entry.first, origin, "section");
    if (!is_section(section))
      throw InputError(unknown_section_message(where(origin, entry.first), section));
    if (!seen.insert(section).second)
      throw InputError(where(origin, entry.first) + ": section '" + section + "' given twice");
    apply_section(updated, section, entry.second, origin);
  }
  config = std::move(updated);
}

void apply_override(TrainConfig& config, const std::string& assignment) {
  const std::string origin = "--set " + assignment;
  const std::size_t equals = assignment.find('=');
  if (equals == std::string::npos)
    throw InputError(origin + ": expected section.key=value, e.g. optim.lr=0.02");
  const std::string key(trim(std::string_view(assignment).substr(0, equals)));
  const std::string value_text = assignment.substr(equals + 1);
  const std::size_t dot = key.find('.');
  if (dot == std::string::npos)
    throw InputError(origin + ": '" + key + "' is not of the form section.key; valid sections: " +
                     join(section_names(), ", "));
  const std::string section = key.substr(0, dot);
  const std::string name = key.substr(dot + 1);
  if (!is_section(section)) throw InputError(unknown_section_message(origin, section));
  const Field* field = find_field(section, name);
  if (!field) throw InputError(unknown_key_message(origin, section, name));
  // The value is YAML so that lists ("[32, 64]") and quoting work as in files; the line
  // number inside a one-line value would only confuse, so messages leave it out.
  const YAML::Node value = parse_yaml(value_text, origin);
  read_field(*field, config, value, Site{origin, field->key, -1});
}

void validate(const TrainConfig& config) {
  for (const Field& field : registry()) {
    const Constraint& constraint = field.constraint;
    std::visit(
        [&](const auto* value) {
          using Value = std::decay_t<decltype(*value)>;
          if constexpr (std::is_same_v<Value, std::string>) {
            const auto& choices = constraint.choices;
            if (!choices.empty() &&
                std::find(choices.begin(), choices.end(), *value) == choices.end())
              throw InputError(field.key + ": '" + *value +
                               "' is not allowed; choose one of: " + join(choices, ", "));
          } else if constexpr (std::is_same_v<Value, std::vector<int>>) {
            if (value->empty()) throw InputError(field.key + ": needs at least one value");
            for (std::size_t i = 0; i < value->size(); ++i) {
              const int item = (*value)[i];
              if (constraint.bounds && !constraint.bounds->contains(item))
                throw InputError(field.key + "[" + std::to_string(i) +
                                 "] = " + std::to_string(item) +
                                 " is out of range; allowed: " + constraint.bounds->describe());
            }
          } else if constexpr (!std::is_same_v<Value, bool>) {
            if (constraint.bounds && !constraint.bounds->contains(static_cast<double>(*value)))
              throw InputError(field.key + " = " + format_value(*value) +
                               " is out of range; allowed: " + constraint.bounds->describe());
          }
        },
        field.locate_const(config));
  }

  // Constraints between keys, which the per-key table cannot express.
  const AugmentConfig& augment = config.augment;
  if (augment.scale_min > augment.scale_max)
    throw InputError("augment.scale_min = " + format_double(augment.scale_min) +
                     " must be <= augment.scale_max = " + format_double(augment.scale_max));
  if (config.dist.compression != "none" && config.dist.backend == "mpi")
    throw InputError("dist.compression = " + config.dist.compression +
                     " needs the nccl backend (MPI has no bf16/fp16 sum); set dist.backend = "
                     "auto or nccl, or dist.compression = none");
  if (const std::string& address = config.coordinator.address; !address.empty()) {
    const auto colon = address.rfind(':');
    const std::string port = colon == std::string::npos ? "" : address.substr(colon + 1);
    if (colon == 0 || port.empty() || port.find_first_not_of("0123456789") != std::string::npos ||
        port.size() > 5 || std::stoi(port) == 0 || std::stoi(port) > 65535)
      throw InputError("coordinator.address = '" + address +
                       "': expected host:port of a fer-coordinator (e.g. node1:7070), or '' for "
                       "the coordinator embedded in rank 0");
  }
  if (augment.eval_tta == "tencrop" && augment.crop_size == 0)
    throw InputError(
        "augment.eval_tta = tencrop needs augment.crop_size > 0 (in [16, 48], e.g. 40): the ten "
        "crops have the training crop size");
}

std::string to_yaml(const TrainConfig& config) {
  std::string text;
  std::string section;
  for (const Field& field : registry()) {
    if (field.section != section) {
      if (!section.empty()) text += "\n";
      section = field.section;
      text += section + ":\n";
    }
    text += "  " + field.name + ": " + format_field(field, config) + "\n";
  }
  return text;
}

std::string config_reference() {
  const TrainConfig defaults;
  struct Row {
    std::string key, type, default_value, allowed, doc;
  };
  std::vector<Row> rows;
  for (const Field& field : registry()) {
    std::string allowed;
    if (!field.constraint.choices.empty()) {
      allowed = join(field.constraint.choices, "|");
    } else if (field.constraint.bounds) {
      allowed = field.constraint.bounds->describe();
    }
    rows.push_back({field.key, std::string(field_type(field, defaults)),
                    format_field(field, defaults), allowed, field.doc});
  }
  Row header{"key", "type", "default", "allowed", "meaning"};
  std::size_t key_width = header.key.size(), type_width = header.type.size(),
              default_width = header.default_value.size(), allowed_width = header.allowed.size();
  for (const Row& row : rows) {
    key_width = std::max(key_width, row.key.size());
    type_width = std::max(type_width, row.type.size());
    default_width = std::max(default_width, row.default_value.size());
    allowed_width = std::max(allowed_width, row.allowed.size());
  }
  const auto format_row = [&](const Row& row) {
    return pad(row.key, key_width + 2) + pad(row.type, type_width + 2) +
           pad(row.default_value, default_width + 2) + pad(row.allowed, allowed_width + 2) +
           row.doc + "\n";
  };
  std::string text = format_row(header);
  std::string section;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::string& row_section = registry()[i].section;
    if (row_section != section) {
      text += "\n";
      section = row_section;
    }
    text += format_row(rows[i]);
  }
  return text;
}

int model_input_size(const AugmentConfig& config) {
  return config.crop_size > 0 ? config.crop_size : kImageSide;
}

}  // namespace fer
