// Model and trainer tests (LibTorch): forward shapes, capacity, checkpoints, resume.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/error.hpp"
#include "data/fer_csv.hpp"
#include "data/shard_writer.hpp"
#include "model/checkpoint_archive.hpp"
#include "model/fer_net.hpp"
#include "pipeline/normalize.hpp"
#include "synth/face_renderer.hpp"
#include "synth/synthetic_dataset.hpp"
#include "test_support.hpp"
#include "train/trainer.hpp"

namespace fer {
namespace {
namespace fs = std::filesystem;
using test::TempDir;

TrainConfig preset(const std::string& name) {
  TrainConfig config;
  apply_config_file(config, fs::path(FER_SOURCE_DIR) / "configs" / (name + ".yaml"));
  return config;
}

TEST(FerNet, ForwardShapesForEverySequenceModeRnnAndPooling) {
  torch::manual_seed(0);
  for (const char* sequence : {"rows", "columns", "raster"})
    for (const char* rnn : {"lstm", "gru", "none"})
      for (const char* pooling : {"last", "mean", "attention"})
        for (bool bidirectional : {true, false}) {
          if (std::string(rnn) == "none" && std::string(pooling) == "last") continue;  // refused
          ModelConfig config;
          config.channels = {4, 8};
          config.convs_per_stage = 1;
          config.sequence = sequence;
          config.rnn = rnn;
          config.pooling = pooling;
          config.bidirectional = bidirectional;
          config.rnn_hidden = 6;
          config.rnn_layers = 2;
          for (int side : {48, 40}) {
            FerNet model(config, side);
            const torch::Tensor logits = model->forward(torch::randn({3, 1, side, side}));
            ASSERT_EQ(logits.sizes(), (std::vector<std::int64_t>{3, kNumEmotions}))
                << sequence << " " << rnn << " " << pooling << " bidirectional=" << bidirectional;
            const std::int64_t map = side / 4;  // two 2x2 pools
            EXPECT_EQ(model->sequence_length(),
                      std::string(sequence) == "raster" ? map * map : map);
          }
        }
}

TEST(FerNet, WithoutAnRnnTheHeadReadsThePooledStepsOfTheCnn) {
  TrainConfig config = preset("bench");
  FerNet hybrid(config.model, 48);
  config.model.rnn = "none";
  FerNet cnn_alone(config.model, 48);
  // The CNN's parameters and a head on the 128 x 6 features of a row: no RNN parameters.
  std::int64_t cnn = 0;
  for (const auto& item : cnn_alone->named_parameters()) {
    EXPECT_EQ(item.key().rfind("rnn", 0), std::string::npos) << item.key();
    if (item.key().rfind("cnn.", 0) == 0) cnn += item.value().numel();
  }
  EXPECT_EQ(parameter_count(*cnn_alone), cnn + (128 * 6 + 1) * kNumEmotions);
  EXPECT_LT(parameter_count(*cnn_alone), parameter_count(*hybrid) / 3);
  cnn_alone->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor images = torch::randn({2, 1, 48, 48});
  const torch::Tensor logits = cnn_alone->forward(images);
  ASSERT_EQ(logits.sizes(), (std::vector<std::int64_t>{2, kNumEmotions}));
  EXPECT_TRUE(torch::isfinite(logits).all().item<bool>());
}

TEST(FerNet, BenchPresetIsTheReferenceModel) {
  const TrainConfig config = preset("bench");
  FerNet model(config.model, 48);
  const std::int64_t parameters = parameter_count(*model);
  EXPECT_GT(parameters, 1'200'000);  // 1.21 M: 3 VGG stages 32/64/128 x2, BiLSTM 128 over rows
  EXPECT_LT(parameters, 1'220'000);
  EXPECT_EQ(model->sequence_length(), 6);
  EXPECT_EQ(model->step_features(), 128 * 6);
}

TEST(CheckpointArchive, AStoredConfigurationThatDoesNotDescribeTheTensorsIsCorrupt) {
  // Tensors of a model with rnn_hidden 16, stored with a configuration saying 32:
  // Module::load() takes any shape, so without a check this failed only inside a
  // forward pass of fer-eval or fer-predict, with a stack trace.
  TrainConfig small;
  small.model.rnn_hidden = 16;
  FerNet model(small.model, 48);
  torch::serialize::OutputArchive archive, model_archive;
  model->save(model_archive);
  archive.write("model", model_archive);
  TrainConfig claimed = small;
  claimed.model.rnn_hidden = 32;
  const nlohmann::json meta = {{"format_version", kCheckpointFormatVersion},
                               {"config", to_yaml(claimed)}};
  archive.write("meta", c10::IValue(meta.dump()));
  std::ostringstream bytes;
  archive.save_to(bytes);
  CheckpointArchive checkpoint = open_checkpoint(bytes.str(), "mixed.pt");
  try {
    load_model(checkpoint, "mixed.pt");
    FAIL() << "tensors of another shape were loaded";
  } catch (const CorruptDataError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("mixed.pt: tensor '"), std::string::npos) << what;
    EXPECT_NE(what.find("do not belong together"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << "one line: " << what;
  }
}

TEST(FerNet, TooManyStagesForTheInputIsAClearError) {
  ModelConfig config;
  config.channels = {4, 4, 4, 4, 4, 4, 4};
  EXPECT_THROW(FerNet(config, 48), std::invalid_argument);
}

// The inference kernels (BatchNorm folded into the convolutions, ReLU fused, blocked
// activations) compute LibTorch's layers' function: logits within 1e-5, for the bench
// preset's shape and a small one, batch sizes 1 to 64, BatchNorm statistics and affine
// parameters far from their initial values (so the folding is exercised).
TEST(FerNet, InferenceKernelsEqualLibTorchLayers) {
  torch::manual_seed(11);
  for (const std::vector<int>& channels :
       {std::vector<int>{8, 16, 32}, std::vector<int>{32, 64, 128}}) {
    ModelConfig config;
    config.channels = channels;
    config.convs_per_stage = 2;
    FerNet model(config, 48);
    if (!model->fused_cpu_kernels_possible()) GTEST_SKIP() << "built without oneDNN";
    {
      torch::NoGradGuard no_grad;
      for (auto& buffer : model->named_buffers()) {
        if (buffer.key().find("running_mean") != std::string::npos) buffer.value().normal_(0, 0.3);
        if (buffer.key().find("running_var") != std::string::npos)
          buffer.value().uniform_(0.2, 3.0);
      }
      for (auto& parameter : model->named_parameters()) {
        const std::string& name = parameter.key();
        if (name.find("cnn") != std::string::npos && parameter.value().dim() == 1)
          parameter.value().uniform_(0.5, 1.5);  // BatchNorm gamma and beta
      }
    }
    model->eval();
    for (std::int64_t batch : {1, 5, 64}) {
      const torch::Tensor images = torch::randn({batch, 1, 48, 48});
      torch::Tensor reference, fast;
      {
        torch::NoGradGuard no_grad;
        model->drop_inference_kernels();
        reference = model->forward(images);
        ASSERT_TRUE(model->use_inference_kernels());
        fast = model->forward(images);
      }
      const double difference = (fast - reference).abs().max().item<double>();
      std::printf("channels %d, batch %ld: largest logit difference %.2e\n", channels[0],
                  static_cast<long>(batch), difference);
      EXPECT_LT(difference, 1e-5) << "channels " << channels[0] << ", batch " << batch
                                  << ", logits up to " << reference.abs().max().item<double>();
      EXPECT_GT(reference.abs().max().item<double>(), 1e-3);  // not a vacuous comparison
    }
    // Training mode never uses them (the folded copy would be stale).
    model->train();
    EXPECT_FALSE(model->fused_cpu_kernels_apply(torch::randn({2, 1, 48, 48})));
  }
}

TEST(FerNet, TinyModelOverfitsASmallBatch) {
  torch::manual_seed(1);
  const TrainConfig config = preset("tiny");
  FerNet model(config.model, 48);
  constexpr int kImages = 28;
  std::vector<float> pixels(kImages * kImagePixels);
  std::vector<std::int64_t> labels(kImages);
  std::uint8_t face[kImagePixels];
  for (int i = 0; i < kImages; ++i) {
    labels[i] = i % kNumEmotions;
    render_synthetic_face(static_cast<std::uint8_t>(labels[i]), 100 + i, face);
    normalize_pixels(face, pixels.data() + i * kImagePixels, kImagePixels);
  }
  const torch::Tensor x = torch::from_blob(pixels.data(), {kImages, 1, 48, 48});
  const torch::Tensor y = torch::from_blob(labels.data(), {kImages}, torch::kInt64);
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-2));
  for (int step = 0; step < 150; ++step) {
    optimizer.zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(x), y);
    loss.backward();
    optimizer.step();
  }
  model->eval();
  torch::NoGradGuard no_grad;
  const double accuracy = model->forward(x).argmax(1).eq(y).to(torch::kFloat).mean().item<double>();
  EXPECT_EQ(accuracy, 1.0) << "a model that cannot memorise 28 images cannot learn";
}

// A small fer-synth data set sharded once for all trainer tests.
class TrainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    SynthOptions synth;
    synth.images = 700;
    synth.write_folder = false;
    synth.balanced = true;
    write_synthetic_dataset(*dir_ / "synth", synth);
    IngestReport report(false);
    const Fer2013Csv csv = read_fer2013_csv(*dir_ / "synth" / "fer2013.csv", {}, report);
    ShardWriteOptions options;
    options.dataset_name = "synth";
    options.images_per_shard = 200;
    write_shards(csv.images, *dir_ / "shards", options);
  }
  static void TearDownTestSuite() { delete dir_; }

  TrainRequest request(const std::string& run, int epochs) const {
    TrainRequest r;
    r.config = preset("tiny");
    r.config.data.shards = (*dir_ / "shards").string();
    r.config.checkpoint.dir = (*dir_ / "checkpoints").string();
    r.config.train.epochs = epochs;
    r.config.train.deterministic = true;
    r.config.train.threads = 1;
    r.config.data.loader_threads = 2;
    r.config_name = "tiny";
    r.run = run;
    r.progress = false;
    return r;
  }
  static fs::path checkpoint(const std::string& run, int epoch) {
    char name[32];
    std::snprintf(name, sizeof name, "epoch-%04d.pt", epoch);
    return *dir_ / "checkpoints" / run / name;
  }
  static std::vector<torch::Tensor> model_tensors(const fs::path& path) {
    torch::serialize::InputArchive archive, model_archive;
    archive.load_from(path.string());
    archive.read("model", model_archive);
    FerNet model(preset("tiny").model, 48);
    model->load(model_archive);
    std::vector<torch::Tensor> tensors;
    for (const auto& p : model->named_parameters()) tensors.push_back(p.value().clone());
    for (const auto& b : model->named_buffers()) tensors.push_back(b.value().clone());
    return tensors;
  }
  static TempDir* dir_;
};
TempDir* TrainerTest::dir_ = nullptr;

TEST_F(TrainerTest, ResumedRunIsBitIdenticalToUninterruptedRun) {
  const TrainResult whole = train(request("whole", 4));
  ASSERT_EQ(whole.epochs_completed, 4);

  TrainRequest first = request("split", 4);
  first.stop_after_epoch = 2;
  ASSERT_EQ(train(first).epochs_completed, 2);
  EXPECT_FALSE(fs::exists(checkpoint("split", 3)));
  TrainRequest second = request("split", 4);
  second.resume = "auto";
  const TrainResult resumed = train(second);
  ASSERT_EQ(resumed.epochs_completed, 4);

  const auto a = model_tensors(checkpoint("whole", 4));
  const auto b = model_tensors(checkpoint("split", 4));
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    ASSERT_TRUE(torch::equal(a[i], b[i])) << "tensor " << i << " differs";
  EXPECT_EQ(whole.best_val_accuracy, resumed.best_val_accuracy);
  EXPECT_EQ(whole.last_val_accuracy, resumed.last_val_accuracy);
}

TEST_F(TrainerTest, CheckpointsPointersAndMetricsAreWritten) {
  const TrainResult result = train(request("files", 2));
  const fs::path run = result.run_dir;
  EXPECT_TRUE(fs::exists(run / "config.yaml"));
  EXPECT_TRUE(fs::exists(fs::canonical(run / "latest.pt")));
  EXPECT_TRUE(fs::exists(fs::canonical(run / "best.pt")));
  std::ifstream metrics(run / "metrics.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(metrics, line)) ++lines;
  EXPECT_EQ(lines, 2);
  EXPECT_GT(result.best_val_accuracy, 1.0 / kNumEmotions) << "two epochs should beat chance";
  // A finished run is not silently overwritten.
  EXPECT_THROW(train(request("files", 2)), InputError);
}

TEST_F(TrainerTest, ResumeFromAnOlderCheckpointRedoesLaterEpochs) {
  TrainRequest first = request("older", 3);
  first.config.checkpoint.keep_last = 5;  // keep epoch 1 to resume from
  train(first);
  TrainRequest again = request("older", 3);
  again.resume = checkpoint("older", 1).string();
  again.config.checkpoint.keep_last = 5;
  // Epochs 2 and 3 have checkpoints: deleting them needs the explicit flag.
  try {
    train(again);
    FAIL() << "resuming before the latest checkpoint deleted later ones unasked";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--drop-later-epochs"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::exists(checkpoint("older", 3)));
  again.drop_later_epochs = true;
  const TrainResult result = train(again);
  EXPECT_EQ(result.epochs_completed, 3);
  std::ifstream metrics(result.run_dir / "metrics.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(metrics, line)) ++lines;
  EXPECT_EQ(lines, 3) << "epochs 2 and 3 must not be listed twice";
  // Resuming a checkpoint into another run's directory is refused.
  train(request("other", 1));
  TrainRequest mixed = request("other", 3);
  mixed.resume = checkpoint("older", 1).string();
  try {
    train(mixed);
    FAIL() << "one run's checkpoint was continued inside another run";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("already holds checkpoints of another run"),
              std::string::npos)
        << e.what();
  }
  // The checkpoint can start a new run (a fork) under a new name.
  TrainRequest fork = request("forked", 2);
  fork.resume = checkpoint("older", 1).string();
  EXPECT_EQ(train(fork).epochs_completed, 2);
}

TEST_F(TrainerTest, DamagedOrIncompatibleCheckpointsAreRejected) {
  train(request("damaged", 1));
  const fs::path latest = fs::canonical(*dir_ / "checkpoints" / "damaged" / "latest.pt");

  // A different architecture is refused before anything is loaded.
  TrainRequest other = request("damaged", 2);
  other.resume = "auto";
  other.config.model.rnn_hidden = 16;
  try {
    train(other);
    FAIL() << "a checkpoint of another architecture was accepted";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("model or optimizer differs"), std::string::npos) << what;
    // The differing key, one line each, not two whole configurations.
    EXPECT_NE(what.find("\n  model.rnn_hidden: 32 -> 16"), std::string::npos) << what;
    EXPECT_EQ(std::count(what.begin(), what.end(), '\n'), 1) << what;
  }
  TrainRequest other_optimizer = request("damaged", 2);
  other_optimizer.resume = "auto";
  other_optimizer.config.optim.optimizer = "sgd";  // tiny uses adamw
  EXPECT_THROW(train(other_optimizer), InputError);

  // A truncated copy outside any run: torch's reader fails, reported clearly.
  const fs::path copy = *dir_ / "copy.pt";
  fs::copy_file(latest, copy);
  fs::resize_file(copy, fs::file_size(copy) / 2);
  TrainRequest from_copy = request("from-copy", 2);
  from_copy.resume = copy.string();
  try {
    train(from_copy);
    FAIL() << "a truncated checkpoint was accepted";
  } catch (const CorruptDataError& e) {
    EXPECT_NE(std::string(e.what()).find("not a readable fer-train checkpoint"), std::string::npos)
        << e.what();
  }

  // Inside its run, the manifest's size and SHA-256 catch it first.
  fs::resize_file(latest, fs::file_size(latest) - 10);
  TrainRequest resume = request("damaged", 2);
  resume.resume = "auto";
  try {
    train(resume);
    FAIL() << "a truncated checkpoint was accepted";
  } catch (const CorruptDataError& e) {
    EXPECT_NE(std::string(e.what()).find("truncated or modified"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fer
