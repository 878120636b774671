// The trainer on a small fer-synth data set (LibTorch): bit-identical resume, the files of
// a run, resuming from an older checkpoint, and refusing damaged or incompatible ones.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/error.hpp"
#include "model/fer_net.hpp"
#include "presets.hpp"
#include "synth_shards.hpp"
#include "test_support.hpp"
#include "train/trainer.hpp"

namespace fer {
namespace {
namespace fs = std::filesystem;
using test::preset;
using test::TempDir;

// A small fer-synth data set sharded once for all trainer tests.
class TrainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    test::write_synth_shards(dir_->path(), 700);
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
  other_optimizer.config.optim.optimizer = OptimizerKind::kSgd;  // tiny uses adamw
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
