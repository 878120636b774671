#pragma once
// A run of the tiny preset trained once per test process (2 epochs on 420 synthetic
// faces, flip TTA as its augment.eval_tta), for the tests of what reads checkpoints:
// the classifier and the evaluation. LibTorch; links fer_train and fer_inference.

#include <filesystem>

#include "inference/emotion_classifier.hpp"
#include "presets.hpp"
#include "synth_shards.hpp"
#include "test_support.hpp"
#include "train/trainer.hpp"

namespace fer::test {

// Where the run lives: checkpoints_dir()/tiny-run/ (best.pt, latest.pt, epoch-0001.pt, ...).
class TinyRun {
 public:
  static const TinyRun& get() {
    static const TinyRun run;
    return run;
  }
  const std::filesystem::path& run_dir() const { return run_dir_; }
  std::filesystem::path checkpoints_dir() const { return dir_ / "checkpoints"; }
  std::filesystem::path shards() const { return dir_ / "shards"; }
  std::filesystem::path scratch() const { return dir_.path(); }

 private:
  TinyRun() {
    TrainRequest request;
    request.config = preset("tiny");
    request.config.data.shards = write_synth_shards(dir_.path(), 420).string();
    request.config.checkpoint.dir = checkpoints_dir().string();
    request.config.train.epochs = 2;
    request.config.train.threads = 1;
    request.config.augment.eval_tta = EvalTta::kFlip;
    request.config_name = "tiny";
    request.run = "tiny-run";
    request.progress = false;
    run_dir_ = train(request).run_dir;
  }
  TempDir dir_;
  std::filesystem::path run_dir_;
};

// A classifier on the CPU with one thread: the same answers on every machine.
inline ClassifierOptions cpu_classifier_options() {
  ClassifierOptions options;
  options.device = DeviceChoice::kCpu;
  options.threads = 1;
  return options;
}

}  // namespace fer::test
