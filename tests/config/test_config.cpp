#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "config/train_config.hpp"
#include "test_support.hpp"

namespace fer {
namespace {
using test::TempDir;
using test::write_file;

// Every key of the schema, written out independently of the registry so that a key
// missing from it (or misspelled) fails these tests.
const std::vector<std::string> kAllKeys = {
    "model.channels",
    "model.convs_per_stage",
    "model.cnn_dropout",
    "model.sequence",
    "model.rnn",
    "model.rnn_layers",
    "model.rnn_hidden",
    "model.bidirectional",
    "model.rnn_dropout",
    "model.pooling",
    "model.head_dropout",
    "data.shards",
    "data.batch_size",
    "data.loader_threads",
    "data.prefetch_batches",
    "data.eval_batch_size",
    "data.limit_train_images",
    "data.limit_val_images",
    "augment.scale_probability",
    "augment.scale_min",
    "augment.scale_max",
    "augment.translate_probability",
    "augment.translate_pixels",
    "augment.flip_probability",
    "augment.rotate_probability",
    "augment.rotate_degrees",
    "augment.erase_probability",
    "augment.erase_max_fraction",
    "augment.blur_probability",
    "augment.blur_sigma_max",
    "augment.crop_size",
    "augment.eval_tta",
    "augment.eval_blur_sigma",
    "optim.optimizer",
    "optim.lr",
    "optim.momentum",
    "optim.nesterov",
    "optim.weight_decay",
    "optim.beta1",
    "optim.beta2",
    "optim.label_smoothing",
    "optim.class_weights",
    "optim.class_weight_power",
    "optim.grad_clip_norm",
    "optim.accumulation_steps",
    "schedule.kind",
    "schedule.warmup_epochs",
    "schedule.warmup_start_factor",
    "schedule.min_lr",
    "schedule.plateau_factor",
    "schedule.plateau_patience",
    "schedule.step_epochs",
    "schedule.step_gamma",
    "train.epochs",
    "train.seed",
    "train.device",
    "train.threads",
    "train.deterministic",
    "train.amp",
    "train.channels_last",
    "train.cpu_kernels",
    "train.cpu_precision",
    "train.early_stopping_patience",
    "train.time_budget_minutes",
    "train.log_every_steps",
    "checkpoint.dir",
    "checkpoint.keep_last",
    "checkpoint.keep_best",
    "checkpoint.best_metric",
    "checkpoint.every_epochs",
    "checkpoint.on_store_failure",
    "dist.backend",
    "dist.timeout_seconds",
    "dist.stall_seconds",
    "dist.bucket_mb",
    "dist.first_bucket_mb",
    "dist.overlap",
    "dist.compression",
    "dist.scale_lr",
    "coordinator.address",
    "coordinator.token_file",
    "coordinator.listen",
    "coordinator.port",
    "coordinator.http_port",
    "coordinator.connect_timeout_seconds",
    "coordinator.flush_timeout_seconds",
    "coordinator.eval_deadline_seconds",
};

// Compares field by field, naming the field that differs. Doubles are compared
// bit-for-bit in value (EXPECT_EQ), not approximately: to_yaml must be exact.
void expect_same(const TrainConfig& a, const TrainConfig& b) {
#define FER_EXPECT_FIELD(field) EXPECT_EQ(a.field, b.field) << #field
  FER_EXPECT_FIELD(model.channels);
  FER_EXPECT_FIELD(model.convs_per_stage);
  FER_EXPECT_FIELD(model.cnn_dropout);
  FER_EXPECT_FIELD(model.sequence);
  FER_EXPECT_FIELD(model.rnn);
  FER_EXPECT_FIELD(model.rnn_layers);
  FER_EXPECT_FIELD(model.rnn_hidden);
  FER_EXPECT_FIELD(model.bidirectional);
  FER_EXPECT_FIELD(model.rnn_dropout);
  FER_EXPECT_FIELD(model.pooling);
  FER_EXPECT_FIELD(model.head_dropout);
  FER_EXPECT_FIELD(data.shards);
  FER_EXPECT_FIELD(data.batch_size);
  FER_EXPECT_FIELD(data.loader_threads);
  FER_EXPECT_FIELD(data.prefetch_batches);
  FER_EXPECT_FIELD(data.eval_batch_size);
  FER_EXPECT_FIELD(data.limit_train_images);
  FER_EXPECT_FIELD(data.limit_val_images);
  FER_EXPECT_FIELD(augment.scale_probability);
  FER_EXPECT_FIELD(augment.scale_min);
  FER_EXPECT_FIELD(augment.scale_max);
  FER_EXPECT_FIELD(augment.translate_probability);
  FER_EXPECT_FIELD(augment.translate_pixels);
  FER_EXPECT_FIELD(augment.flip_probability);
  FER_EXPECT_FIELD(augment.rotate_probability);
  FER_EXPECT_FIELD(augment.rotate_degrees);
  FER_EXPECT_FIELD(augment.erase_probability);
  FER_EXPECT_FIELD(augment.erase_max_fraction);
  FER_EXPECT_FIELD(augment.blur_probability);
  FER_EXPECT_FIELD(augment.blur_sigma_max);
  FER_EXPECT_FIELD(augment.crop_size);
  FER_EXPECT_FIELD(augment.eval_tta);
  FER_EXPECT_FIELD(augment.eval_blur_sigma);
  FER_EXPECT_FIELD(optim.optimizer);
  FER_EXPECT_FIELD(optim.lr);
  FER_EXPECT_FIELD(optim.momentum);
  FER_EXPECT_FIELD(optim.nesterov);
  FER_EXPECT_FIELD(optim.weight_decay);
  FER_EXPECT_FIELD(optim.beta1);
  FER_EXPECT_FIELD(optim.beta2);
  FER_EXPECT_FIELD(optim.label_smoothing);
  FER_EXPECT_FIELD(optim.class_weights);
  FER_EXPECT_FIELD(optim.class_weight_power);
  FER_EXPECT_FIELD(optim.grad_clip_norm);
  FER_EXPECT_FIELD(optim.accumulation_steps);
  FER_EXPECT_FIELD(schedule.kind);
  FER_EXPECT_FIELD(schedule.warmup_epochs);
  FER_EXPECT_FIELD(schedule.warmup_start_factor);
  FER_EXPECT_FIELD(schedule.min_lr);
  FER_EXPECT_FIELD(schedule.plateau_factor);
  FER_EXPECT_FIELD(schedule.plateau_patience);
  FER_EXPECT_FIELD(schedule.step_epochs);
  FER_EXPECT_FIELD(schedule.step_gamma);
  FER_EXPECT_FIELD(train.epochs);
  FER_EXPECT_FIELD(train.seed);
  FER_EXPECT_FIELD(train.device);
  FER_EXPECT_FIELD(train.threads);
  FER_EXPECT_FIELD(train.deterministic);
  FER_EXPECT_FIELD(train.amp);
  FER_EXPECT_FIELD(train.channels_last);
  FER_EXPECT_FIELD(train.early_stopping_patience);
  FER_EXPECT_FIELD(train.log_every_steps);
  FER_EXPECT_FIELD(checkpoint.dir);
  FER_EXPECT_FIELD(checkpoint.keep_last);
  FER_EXPECT_FIELD(checkpoint.every_epochs);
  FER_EXPECT_FIELD(checkpoint.on_store_failure);
  FER_EXPECT_FIELD(dist.backend);
  FER_EXPECT_FIELD(dist.timeout_seconds);
  FER_EXPECT_FIELD(dist.stall_seconds);
  FER_EXPECT_FIELD(dist.bucket_mb);
  FER_EXPECT_FIELD(dist.first_bucket_mb);
  FER_EXPECT_FIELD(dist.overlap);
  FER_EXPECT_FIELD(dist.compression);
  FER_EXPECT_FIELD(dist.scale_lr);
  FER_EXPECT_FIELD(checkpoint.keep_best);
  FER_EXPECT_FIELD(checkpoint.best_metric);
  FER_EXPECT_FIELD(train.cpu_kernels);
  FER_EXPECT_FIELD(train.cpu_precision);
  FER_EXPECT_FIELD(coordinator.address);
  FER_EXPECT_FIELD(coordinator.token_file);
  FER_EXPECT_FIELD(coordinator.listen);
  FER_EXPECT_FIELD(coordinator.port);
  FER_EXPECT_FIELD(coordinator.http_port);
  FER_EXPECT_FIELD(coordinator.connect_timeout_seconds);
  FER_EXPECT_FIELD(coordinator.flush_timeout_seconds);
  FER_EXPECT_FIELD(coordinator.eval_deadline_seconds);
#undef FER_EXPECT_FIELD
}

// Every field moved away from its default, with doubles that have no short decimal form.
TrainConfig every_field_changed() {
  TrainConfig c;
  c.model.channels = {16, 48, 96, 200};
  c.model.convs_per_stage = 3;
  c.model.cnn_dropout = 0.1 + 0.2;  // 0.30000000000000004
  c.model.sequence = SequenceLayout::kRaster;
  c.model.rnn = RnnCell::kGru;
  c.model.rnn_layers = 2;
  c.model.rnn_hidden = 257;
  c.model.bidirectional = false;
  c.model.rnn_dropout = 1.0 / 3.0;
  c.model.pooling = Pooling::kAttention;
  c.model.head_dropout = 0.45;
  c.data.shards = "/data/shards/fer 2013: #plus";
  c.data.batch_size = 33;
  c.data.loader_threads = 5;
  c.data.prefetch_batches = 7;
  c.data.eval_batch_size = 511;
  c.data.limit_train_images = 5'000'000'000;  // beyond int
  c.data.limit_val_images = 123;
  c.augment.scale_probability = 0.0;
  c.augment.scale_min = 0.7;
  c.augment.scale_max = 1.3;
  c.augment.translate_probability = 1.0;
  c.augment.translate_pixels = 2.5;
  c.augment.flip_probability = 0.25;
  c.augment.rotate_probability = 0.125;
  c.augment.rotate_degrees = 15;
  c.augment.erase_probability = 0.6;
  c.augment.erase_max_fraction = 0.2;
  c.augment.blur_probability = 0.3;
  c.augment.blur_sigma_max = 2.5;
  c.augment.crop_size = 40;
  c.augment.eval_tta = EvalTta::kTencrop;
  c.augment.eval_blur_sigma = 2.75;
  c.optim.optimizer = OptimizerKind::kAdamw;
  c.optim.lr = 3e-4;
  c.optim.momentum = 0.95;
  c.optim.nesterov = false;
  c.optim.weight_decay = 5e-2;
  c.optim.beta1 = 0.85;
  c.optim.beta2 = 0.9995;
  c.optim.label_smoothing = 0.1;
  c.optim.class_weights = true;
  c.optim.class_weight_power = 0.5;
  c.optim.grad_clip_norm = 5;
  c.optim.accumulation_steps = 4;
  c.schedule.kind = ScheduleKind::kPlateau;
  c.schedule.warmup_epochs = 0.5;
  c.schedule.warmup_start_factor = 0.01;
  c.schedule.min_lr = 1e-6;
  c.schedule.plateau_factor = 0.5;
  c.schedule.plateau_patience = 3;
  c.schedule.step_epochs = 10;
  c.schedule.step_gamma = 0.2;
  c.train.epochs = 100;
  c.train.seed = std::numeric_limits<std::uint64_t>::max();
  c.train.device = DeviceChoice::kCuda;
  c.train.threads = 8;
  c.train.deterministic = true;
  c.train.amp = false;
  c.train.channels_last = false;
  c.train.early_stopping_patience = 12;
  c.train.log_every_steps = 10;
  c.checkpoint.dir = "null";  // a YAML keyword as a string must stay a string
  c.checkpoint.keep_last = 1;
  c.checkpoint.every_epochs = 2;
  c.checkpoint.on_store_failure = StoreFailurePolicy::kContinue;
  c.checkpoint.best_metric = BestMetric::kValMacroF1;
  c.train.cpu_kernels = CpuKernels::kAten;
  c.train.cpu_precision = CpuTrainPrecision::kAuto;
  c.dist.backend = DistBackend::kNccl;
  c.dist.timeout_seconds = 42.5;
  c.dist.stall_seconds = 12;
  c.dist.bucket_mb = 12.5;
  c.dist.first_bucket_mb = 0.25;
  c.dist.overlap = false;
  c.dist.compression = Compression::kBf16;
  c.dist.scale_lr = false;
  return c;
}

TrainConfig round_trip(const TrainConfig& config) {
  TrainConfig copy;
  apply_config_text(copy, to_yaml(config), "round-trip");
  return copy;
}

// Runs `action`, expects an InputError and returns its message.
template <typename Action>
std::string input_error(Action action) {
  try {
    action();
  } catch (const InputError& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected an InputError";
  return {};
}

std::string file_error(const std::string& yaml) {
  TempDir dir;
  const auto path = dir / "bad.yaml";
  write_file(path, yaml);
  TrainConfig config;
  return input_error([&] { apply_config_file(config, path); });
}

std::string validate_error(const TrainConfig& config) {
  return input_error([&] { validate(config); });
}

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

TEST(ConfigYaml, DefaultsRoundTripAndAreValid) {
  const TrainConfig defaults;
  expect_same(round_trip(defaults), defaults);
  EXPECT_NO_THROW(validate(defaults));
}

TEST(ConfigYaml, EveryFieldChangedRoundTripsExactly) {
  const TrainConfig changed = every_field_changed();
  EXPECT_NO_THROW(validate(changed));
  expect_same(round_trip(changed), changed);
}

TEST(ConfigYaml, EmitsEveryKeyGroupedBySectionWithShortNumbers) {
  const std::string yaml = to_yaml(TrainConfig{});
  std::size_t previous = 0;
  for (const auto& key : kAllKeys) {
    const auto dot = key.find('.');
    const auto section = yaml.find(key.substr(0, dot) + ":\n");
    ASSERT_NE(section, std::string::npos) << key;
    const auto position = yaml.find("\n  " + key.substr(dot + 1) + ": ", section);
    ASSERT_NE(position, std::string::npos) << key << "\n" << yaml;
    EXPECT_GE(position, previous) << key << " is out of schema order";
    previous = position;
  }
  EXPECT_HAS(yaml, "  lr: 0.01\n");
  EXPECT_HAS(yaml, "  weight_decay: 0.0001\n");
  EXPECT_HAS(yaml, "  channels: [32, 64, 128]\n");
  EXPECT_HAS(yaml, "  bidirectional: true\n");
  EXPECT_HAS(yaml, "  sequence: rows\n");
}

TEST(ConfigYaml, AwkwardStringsAndRandomNumbersRoundTrip) {
  std::mt19937_64 rng(20240601);
  const std::vector<std::string> strings = {"",
                                            "true",
                                            "No",
                                            "~",
                                            " leading and trailing ",
                                            "quote\" and \\ backslash",
                                            "tab\tnew\nline",
                                            "- dash",
                                            "key: value",
                                            "# hash",
                                            "ünïcödé/路径",
                                            "[1, 2]",
                                            "0.5",
                                            "{a: b}",
                                            "'single'",
                                            "*alias",
                                            "&anchor",
                                            "!tag",
                                            "%percent",
                                            "@at",
                                            "`tick`"};
  for (std::size_t round = 0; round < 200; ++round) {
    TrainConfig config;
    config.data.shards = strings[round % strings.size()];
    config.checkpoint.dir = strings[(round * 7 + 3) % strings.size()];
    // Any finite double, including subnormals and values near the extremes.
    for (double* target : {&config.optim.lr, &config.augment.scale_min, &config.schedule.min_lr,
                           &config.model.head_dropout}) {
      double value = 0;
      do {
        const std::uint64_t bits = rng();
        std::memcpy(&value, &bits, sizeof value);
      } while (!std::isfinite(value));
      *target = value;
    }
    config.data.limit_val_images = static_cast<std::int64_t>(rng());
    config.train.seed = rng();
    config.model.channels = {static_cast<int>(rng()), -1, 0};
    const TrainConfig copy = round_trip(config);
    expect_same(copy, config);
    if (HasFailure()) {
      ADD_FAILURE() << to_yaml(config);
      return;
    }
  }
}

TEST(ConfigFile, SetsASubsetAndKeepsTheRest) {
  TempDir dir;
  const auto path = dir / "small.yaml";
  write_file(path,
             "# a comment\n"
             "model:\n"
             "  channels: [16, 32]\n"
             "  rnn: gru\n"
             "optim:\n"
             "  lr: 0.05\n"
             "  nesterov: false\n"
             "train:\n"
             "  seed: 18446744073709551615\n"
             "data:\n"
             "  limit_train_images: 6000000000\n"
             "checkpoint:\n");
  TrainConfig config;
  config.augment.crop_size = 40;  // set before the file: must survive it
  apply_config_file(config, path);

  TrainConfig expected;
  expected.augment.crop_size = 40;
  expected.model.channels = {16, 32};
  expected.model.rnn = RnnCell::kGru;
  expected.optim.lr = 0.05;
  expected.optim.nesterov = false;
  expected.train.seed = std::numeric_limits<std::uint64_t>::max();
  expected.data.limit_train_images = 6'000'000'000;
  expect_same(config, expected);
}

TEST(ConfigFile, EmptyOrCommentOnlyChangesNothing) {
  for (const std::string text : {"", "\n\n", "# only a comment\n  # and another\n"}) {
    TrainConfig config = every_field_changed();
    apply_config_text(config, text, "empty.yaml");
    expect_same(config, every_field_changed());
  }
}

TEST(ConfigFile, MissingFileNamesThePath) {
  TempDir dir;
  TrainConfig config;
  const std::string message = input_error([&] { apply_config_file(config, dir / "absent.yaml"); });
  EXPECT_HAS(message, "absent.yaml");
}

TEST(ConfigFile, UnknownSectionNamesFileAndListsSections) {
  const std::string message = file_error("model:\n  rnn: gru\nmodle:\n  rnn: gru\n");
  EXPECT_HAS(message, "bad.yaml:3");
  EXPECT_HAS(message, "'modle'");
  for (const char* section :
       {"model", "data", "augment", "optim", "schedule", "train", "checkpoint"})
    EXPECT_HAS(message, section);
}

TEST(ConfigFile, UnknownKeyNamesFileAndDottedKeyAndListsValidKeys) {
  const std::string message = file_error("optim:\n  lr: 0.1\n  learning_rate: 0.1\n");
  EXPECT_HAS(message, "bad.yaml:3");
  EXPECT_HAS(message, "optim.learning_rate");
  EXPECT_HAS(message, "lr, momentum, nesterov");
  EXPECT_HAS(message, "grad_clip_norm");
  EXPECT_EQ(message.find("convs_per_stage"), std::string::npos) << "only optim's keys: " << message;
}

TEST(ConfigFile, WrongTypesNameKeyExpectedTypeAndValue) {
  struct Case {
    std::string yaml, key, expected, found;
  };
  const std::vector<Case> cases = {
      {"optim:\n  lr: abc\n", "optim.lr", "number", "'abc'"},
      {"model:\n  rnn_layers: 1.5\n", "model.rnn_layers", "int", "'1.5'"},
      {"model:\n  channels: 64\n", "model.channels", "list", "'64'"},
      {"model:\n  channels: [32, x]\n", "model.channels[1]", "int", "'x'"},
      {"model:\n  rnn: {kind: gru}\n", "model.rnn", "a string, one of: lstm, gru, none", "a map"},
      {"optim:\n  lr: [0.1]\n", "optim.lr", "number", "a list"},
      {"train:\n  amp: maybe\n", "train.amp", "bool", "'maybe'"},
      {"train:\n  seed: -1\n", "train.seed", "uint64", "'-1'"},
      {"train:\n  epochs: 99999999999\n", "train.epochs", "int", "out of range"},
      {"optim:\n  lr:\n", "optim.lr", "number", "no value"},
      {"optim:\n  lr: .nan\n", "optim.lr", "number", ".nan"},
  };
  for (const Case& c : cases) {
    const std::string message = file_error(c.yaml);
    EXPECT_HAS(message, "bad.yaml:2");
    EXPECT_HAS(message, c.key + ":");
    EXPECT_HAS(message, c.expected);
    EXPECT_HAS(message, c.found);
  }
}

TEST(ConfigFile, StructuralErrorsAreInputErrors) {
  EXPECT_HAS(file_error("- model\n- data\n"), "map of sections");
  EXPECT_HAS(file_error("model: 3\n"), "model: expected a map of keys");
  EXPECT_HAS(file_error("optim:\n  lr: 0.1\n  lr: 0.2\n"), "optim.lr: given twice");
}

TEST(ConfigFile, FailedApplyLeavesConfigUntouched) {
  TrainConfig config;
  EXPECT_THROW(apply_config_text(config, "optim:\n  lr: 0.5\n  momentum: high\n", "x.yaml"),
               InputError);
  expect_same(config, TrainConfig{});
}

TEST(ConfigFile, SyntaxErrorNamesFileAndLine) {
  const std::string message = file_error("model:\n  rnn: gru\n  channels: [32, 64\n");
  EXPECT_HAS(message, "bad.yaml:");
  EXPECT_HAS(message, "YAML syntax error");
  // The unclosed list is reported on line 3 or later (where the parser gives up), never
  // on the lines before it.
  EXPECT_EQ(message.find("bad.yaml:1:"), std::string::npos) << message;
  EXPECT_EQ(message.find("bad.yaml:2:"), std::string::npos) << message;

  const std::string tab_message = file_error("model:\n  rnn: gru\n\t channels: [1]\n");
  EXPECT_HAS(tab_message, "bad.yaml:3:");
}

TEST(ConfigOverride, SetsEveryType) {
  TrainConfig config;
  apply_override(config, "optim.lr=0.02");
  apply_override(config, "model.rnn_layers=3");
  apply_override(config, "model.channels=[8, 16, 32, 64]");
  apply_override(config, "model.bidirectional=false");
  apply_override(config, "model.sequence=columns");
  apply_override(config, "data.limit_val_images=7000000000");
  apply_override(config, "train.seed=42");
  apply_override(config, " checkpoint.dir = runs/a=b ");
  EXPECT_EQ(config.optim.lr, 0.02);
  EXPECT_EQ(config.model.rnn_layers, 3);
  EXPECT_EQ(config.model.channels, (std::vector<int>{8, 16, 32, 64}));
  EXPECT_FALSE(config.model.bidirectional);
  EXPECT_EQ(config.model.sequence, SequenceLayout::kColumns);
  EXPECT_EQ(config.data.limit_val_images, 7'000'000'000);
  EXPECT_EQ(config.train.seed, 42u);
  EXPECT_EQ(config.checkpoint.dir, "runs/a=b");  // split at the first '=' only
}

TEST(ConfigOverride, ErrorsNameTheOverride) {
  TrainConfig config;
  const std::string unknown_key = input_error([&] { apply_override(config, "optim.lrate=1"); });
  EXPECT_HAS(unknown_key, "--set optim.lrate=1");
  EXPECT_HAS(unknown_key, "optim.lrate");
  EXPECT_HAS(unknown_key, "lr, momentum");

  const std::string unknown_section = input_error([&] { apply_override(config, "optm.lr=1"); });
  EXPECT_HAS(unknown_section, "'optm'");
  EXPECT_HAS(unknown_section, "model, data, augment, optim, schedule, train, checkpoint");

  const std::string no_dot = input_error([&] { apply_override(config, "lr=1"); });
  EXPECT_HAS(no_dot, "section.key");

  const std::string no_equals = input_error([&] { apply_override(config, "optim.lr"); });
  EXPECT_HAS(no_equals, "--set optim.lr");
  EXPECT_HAS(no_equals, "section.key=value");

  const std::string bad_value = input_error([&] { apply_override(config, "optim.lr=fast"); });
  EXPECT_HAS(bad_value, "--set optim.lr=fast: optim.lr: expected a number");

  const std::string bad_syntax =
      input_error([&] { apply_override(config, "model.channels=[1, 2"); });
  EXPECT_HAS(bad_syntax, "--set model.channels=[1, 2");
  EXPECT_HAS(bad_syntax, "YAML syntax error");
  expect_same(config, TrainConfig{});
}

// A choice is parsed into its enum when it is read, so a bad name is refused there,
// with the file and line, and never reaches validate() or the code past it.
TEST(ConfigChoice, BadChoiceIsRefusedWhereItIsReadNamingKeyValueAndAllowedValues) {
  TrainConfig config;
  const std::string message = input_error([&] { apply_override(config, "model.rnn=transformer"); });
  EXPECT_HAS(message, "--set model.rnn=transformer: model.rnn: 'transformer' is not allowed");
  EXPECT_HAS(message, "lstm, gru, none");
  expect_same(config, TrainConfig{});

  const std::string in_file = file_error("model:\n  rnn: gru\n  pooling: max\n");
  EXPECT_HAS(in_file, "bad.yaml:3: model.pooling: 'max' is not allowed");
  EXPECT_HAS(in_file, "last, mean, attention");
  // Names are exact: no case folding, no abbreviations.
  EXPECT_HAS(input_error([&] { apply_override(config, "dist.compression=BF16"); }),
             "'BF16' is not allowed");
}

// Every choice enum: each name reads back as its value, and to_yaml writes the name.
TEST(ConfigChoice, EveryNameOfEveryChoiceKeyRoundTrips) {
  struct Key {
    std::string key;
    std::vector<std::string> names;
  };
  const std::vector<Key> keys = {
      {"model.sequence", choice_names<SequenceLayout>()},
      {"model.rnn", choice_names<RnnCell>()},
      {"model.pooling", choice_names<Pooling>()},
      {"augment.eval_tta", choice_names<EvalTta>()},
      {"optim.optimizer", choice_names<OptimizerKind>()},
      {"schedule.kind", choice_names<ScheduleKind>()},
      {"train.device", choice_names<DeviceChoice>()},
      {"train.cpu_kernels", choice_names<CpuKernels>()},
      {"train.cpu_precision", choice_names<CpuTrainPrecision>()},
      {"checkpoint.best_metric", choice_names<BestMetric>()},
      {"checkpoint.on_store_failure", choice_names<StoreFailurePolicy>()},
      {"dist.backend", choice_names<DistBackend>()},
      {"dist.compression", choice_names<Compression>()},
  };
  for (const Key& key : keys) {
    ASSERT_GE(key.names.size(), 2u) << key.key;
    for (const std::string& name : key.names) {
      TrainConfig config;
      apply_override(config, key.key + "=" + name);
      const std::string field = key.key.substr(key.key.find('.') + 1);
      EXPECT_HAS(to_yaml(config), "  " + field + ": " + name + "\n");
      expect_same(round_trip(config), config);
    }
  }
  EXPECT_EQ(name_of(parse_choice<EvalTta>("shifts", "x")), "shifts");
  EXPECT_EQ(parse_choice<RnnCell>("none", "x"), RnnCell::kNone);
}

TEST(ConfigValidate, RangeErrorsNameKeyAndRange) {
  struct Case {
    std::string assignment, key, range;
  };
  const std::vector<Case> cases = {
      {"optim.lr=0", "optim.lr", "> 0"},
      {"optim.label_smoothing=1", "optim.label_smoothing", "[0, 1)"},
      {"model.head_dropout=-0.1", "model.head_dropout", "[0, 1)"},
      {"augment.flip_probability=1.5", "augment.flip_probability", "[0, 1]"},
      {"data.batch_size=0", "data.batch_size", ">= 1"},
      {"train.threads=-1", "train.threads", ">= 0"},
      {"checkpoint.keep_last=0", "checkpoint.keep_last", ">= 1"},
      {"schedule.warmup_epochs=-1", "schedule.warmup_epochs", ">= 0"},
      {"augment.crop_size=8", "augment.crop_size", "0 or [16, 48]"},
      {"augment.crop_size=49", "augment.crop_size", "0 or [16, 48]"},
      {"model.channels=[32, 0]", "model.channels[1]", ">= 1"},
      {"coordinator.http_port=-2", "coordinator.http_port", "[-1, 65535]"},
      {"coordinator.address=node1", "coordinator.address", "host:port"},
      {"coordinator.address=node1:0", "coordinator.address", "host:port"},
      {"coordinator.address=:7070", "coordinator.address", "host:port"},
      {"coordinator.address=node1:99999", "coordinator.address", "host:port"},
      {"checkpoint.keep_best=0", "checkpoint.keep_best", ">= 1"},
  };
  for (const Case& c : cases) {
    TrainConfig config;
    apply_override(config, c.assignment);
    const std::string message = validate_error(config);
    EXPECT_HAS(message, c.key);
    EXPECT_HAS(message, c.range);
  }
  TrainConfig edge;
  apply_override(edge, "augment.crop_size=16");
  apply_override(edge, "augment.flip_probability=1");
  apply_override(edge, "optim.weight_decay=0");
  EXPECT_NO_THROW(validate(edge));
}

TEST(ConfigValidate, CrossKeyConstraints) {
  TrainConfig no_crop;
  apply_override(no_crop, "augment.eval_tta=tencrop");
  const std::string tencrop = validate_error(no_crop);
  EXPECT_HAS(tencrop, "augment.eval_tta");
  EXPECT_HAS(tencrop, "augment.crop_size");

  TrainConfig cnn_alone_last;
  apply_override(cnn_alone_last, "model.rnn=none");
  apply_override(cnn_alone_last, "model.pooling=last");
  const std::string last = validate_error(cnn_alone_last);
  EXPECT_HAS(last, "model.rnn = none");
  EXPECT_HAS(last, "model.pooling");
  apply_override(cnn_alone_last, "model.pooling=mean");
  EXPECT_NO_THROW(validate(cnn_alone_last));

  TrainConfig inverted;
  apply_override(inverted, "augment.scale_min=1.5");
  EXPECT_HAS(validate_error(inverted), "augment.scale_min");

  TrainConfig empty_channels;
  apply_override(empty_channels, "model.channels=[]");
  EXPECT_HAS(validate_error(empty_channels), "model.channels");

  TrainConfig compressed_mpi;
  apply_override(compressed_mpi, "dist.backend=mpi");
  apply_override(compressed_mpi, "dist.compression=bf16");
  const std::string compression = validate_error(compressed_mpi);
  EXPECT_HAS(compression, "dist.compression");
  EXPECT_HAS(compression, "nccl");
  apply_override(compressed_mpi, "dist.backend=auto");
  EXPECT_NO_THROW(validate(compressed_mpi));
}

TEST(ConfigReference, ListsEveryKeyWithTypeAndDefault) {
  const std::string reference = config_reference();
  for (const auto& key : kAllKeys) EXPECT_HAS(reference, key + " ");
  const auto line_of = [&](const std::string& key) {
    const auto start = reference.find(key + " ");
    return reference.substr(start, reference.find('\n', start) - start);
  };
  EXPECT_HAS(line_of("optim.lr"), " float ");
  EXPECT_HAS(line_of("optim.lr"), " 0.01 ");
  EXPECT_HAS(line_of("model.channels"), "[32, 64, 128]");
  EXPECT_HAS(line_of("checkpoint.keep_last"), " 3 ");
  EXPECT_HAS(line_of("checkpoint.keep_last"), "most recent");
  EXPECT_HAS(line_of("checkpoint.best_metric"), "val_accuracy|val_macro_f1|val_loss");
  EXPECT_HAS(line_of("model.rnn"), "lstm|gru");
  EXPECT_HAS(line_of("train.seed"), " uint64 ");
  // One line per key, plus the header and a blank line before each of the nine sections.
  std::size_t lines = 0;
  for (char c : reference) lines += c == '\n';
  EXPECT_EQ(lines, kAllKeys.size() + 1 + 9);
}

}  // namespace
}  // namespace fer
