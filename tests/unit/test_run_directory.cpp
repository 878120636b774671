#include <gtest/gtest.h>

#include <fstream>

#include "common/error.hpp"
#include "common/sha256.hpp"
#include "metrics/confusion_matrix.hpp"
#include "test_support.hpp"
#include "train/lr_schedule.hpp"
#include "train/run_directory.hpp"

namespace fer {
namespace {
namespace fs = std::filesystem;
using test::TempDir;

TEST(RunDirectory, RetentionKeepsLastAndBestAndPointersNeverDangle) {
  TempDir dir;
  RunDirectory run(dir / "r", /*keep_last=*/2);
  const double accuracies[] = {0.5, 0.8, 0.6, 0.7, 0.65};
  for (int e = 1; e <= 5; ++e) {
    run.commit(e, e * 10, "checkpoint " + std::to_string(e),
               {{"val_accuracy", accuracies[e - 1]}, {"val_loss", 1.0}});
    EXPECT_TRUE(fs::exists(fs::canonical(dir / "r" / "latest.pt")));
    EXPECT_TRUE(fs::exists(fs::canonical(dir / "r" / "best.pt")));
  }
  std::vector<std::string> kept;
  for (const auto& r : run.checkpoints()) kept.push_back(r.file);
  EXPECT_EQ(kept, (std::vector<std::string>{"epoch-0002.pt", "epoch-0004.pt", "epoch-0005.pt"}));
  EXPECT_FALSE(fs::exists(dir / "r" / "epoch-0001.pt"));
  EXPECT_FALSE(fs::exists(dir / "r" / "epoch-0003.pt"));
  EXPECT_EQ(fs::read_symlink(dir / "r" / "latest.pt"), "epoch-0005.pt");
  EXPECT_EQ(fs::read_symlink(dir / "r" / "best.pt"), "epoch-0002.pt");
  EXPECT_EQ(test::read_file(dir / "r" / "best.pt"), "checkpoint 2");

  RunDirectory reopened(dir / "r", 2);  // state comes back from manifest.json
  ASSERT_EQ(reopened.checkpoints().size(), 3u);
  EXPECT_EQ(reopened.best()->filename(), "epoch-0002.pt");
  EXPECT_EQ(reopened.latest()->filename(), "epoch-0005.pt");
}

TEST(RunDirectory, VerifyDetectsTruncationAndTampering) {
  TempDir dir;
  RunDirectory run(dir / "r", 3);
  run.commit(1, 1, std::string(1000, 'a'), {{"val_accuracy", 0.5}});
  EXPECT_TRUE(run.verify(dir / "r" / "latest.pt"));
  test::write_file(dir / "elsewhere.pt", "x");
  EXPECT_FALSE(run.verify(dir / "elsewhere.pt")) << "a file the run does not list";
  test::write_file(dir / "r" / "epoch-0001.pt", std::string(999, 'a') + "b");
  EXPECT_THROW(run.verify(dir / "r" / "epoch-0001.pt"), CorruptDataError);
  fs::resize_file(dir / "r" / "epoch-0001.pt", 10);
  try {
    run.verify(dir / "r" / "latest.pt");
    FAIL();
  } catch (const CorruptDataError& e) {
    EXPECT_NE(std::string(e.what()).find("truncated or modified"), std::string::npos);
  }
}

TEST(RunDirectory, ForgetAfterRederivesBestAndLatest) {
  TempDir dir;
  RunDirectory run(dir / "r", 10);
  const double accuracies[] = {0.5, 0.6, 0.9, 0.7};
  for (int e = 1; e <= 4; ++e)
    run.commit(e, e, "c" + std::to_string(e), {{"val_accuracy", accuracies[e - 1]}});
  run.forget_after(2);  // resuming from epoch 2: epochs 3 and 4 will be redone
  ASSERT_EQ(run.checkpoints().size(), 2u);
  EXPECT_FALSE(fs::exists(dir / "r" / "epoch-0003.pt"));
  EXPECT_EQ(fs::read_symlink(dir / "r" / "best.pt"), "epoch-0002.pt");
  EXPECT_EQ(fs::read_symlink(dir / "r" / "latest.pt"), "epoch-0002.pt");
  RunDirectory reopened(dir / "r", 10);
  EXPECT_EQ(reopened.best()->filename(), "epoch-0002.pt");
}

TEST(RunDirectory, KeepsTheBestNByTheChosenMetricLowerLossIsBetter) {
  TempDir dir;
  RunDirectory run(dir / "r", RetentionPolicy{/*keep_last=*/1, /*keep_best=*/2, "val_loss"});
  const double losses[] = {1.0, 0.5, 0.7, 0.9, 0.6};
  for (int e = 1; e <= 5; ++e)
    run.commit(e, e, "c" + std::to_string(e), {{"val_loss", losses[e - 1]}});
  std::vector<int> kept;
  for (const auto& r : run.checkpoints()) kept.push_back(r.epoch);
  EXPECT_EQ(kept, (std::vector<int>{2, 5})) << "the 2 lowest losses (0.5, 0.6) and the last";
  EXPECT_EQ(fs::read_symlink(dir / "r" / "best.pt"), "epoch-0002.pt");
  EXPECT_EQ(fs::read_symlink(dir / "r" / "latest.pt"), "epoch-0005.pt");
  for (int e : {1, 3, 4})
    EXPECT_FALSE(fs::exists(dir / "r" / ("epoch-000" + std::to_string(e) + ".pt")));
  RunDirectory reopened(dir / "r", RetentionPolicy{1, 2, "val_loss"});
  EXPECT_DOUBLE_EQ(reopened.checkpoints().front().metric("val_loss"), 0.5);
  EXPECT_FALSE(reopened.checkpoints().front().time.empty());
}

TEST(RunDirectory, EqualMetricsKeepTheEarlierBest) {
  TempDir dir;
  RunDirectory run(dir / "r", 5);
  run.commit(1, 1, "a", {{"val_accuracy", 0.7}});
  run.commit(2, 2, "b", {{"val_accuracy", 0.7}});
  EXPECT_EQ(fs::read_symlink(dir / "r" / "best.pt"), "epoch-0001.pt");
}

TEST(RunDirectory, CommitStagedRenamesAVerifiedFileIntoPlace) {
  TempDir dir;
  RunDirectory run(dir / "r", 3);
  const fs::path staged = run.staging_path("upload-1");
  test::write_file(staged, "streamed bytes");
  const std::string sha = sha256_file(staged);
  run.commit_staged(4, 40, staged, 14, sha, {{"val_accuracy", 0.25}});
  EXPECT_FALSE(fs::exists(staged));
  EXPECT_EQ(test::read_file(dir / "r" / "latest.pt"), "streamed bytes");
  EXPECT_TRUE(run.verify(dir / "r" / "epoch-0004.pt"));
  ASSERT_NE(run.find_epoch(4), nullptr);
  EXPECT_EQ(run.find_epoch(4)->step, 40);
  EXPECT_EQ(run.find_epoch(3), nullptr);
}

TEST(RunDirectory, ReadMetricsDropsATornLastLine) {
  TempDir dir;
  RunDirectory run(dir / "r", 3);
  run.append_metrics({{"epoch", 1}});
  run.append_metrics({{"epoch", 2}});
  {
    std::ofstream out(dir / "r" / "metrics.jsonl", std::ios::app);
    out << "{\"epoch\": 3, \"val_acc";  // a crash mid-append
  }
  EXPECT_EQ(run.read_metrics().size(), 2u);
}

TEST(RunDirectory, AbandonedTemporaryCheckpointsAreRemoved) {
  TempDir dir;
  test::write_file(dir / "r" / ".epoch-0001.pt.tmp-999999999", "half a checkpoint");
  RunDirectory run(dir / "r", 3);
  EXPECT_FALSE(fs::exists(dir / "r" / ".epoch-0001.pt.tmp-999999999"));
}

TEST(RunDirectory, ResolveCheckpoint) {
  TempDir dir;
  RunDirectory run(dir / "runs" / "a", 3);
  run.commit(1, 1, "x", {{"val_accuracy", 0.5}});
  EXPECT_EQ(resolve_checkpoint((dir / "runs" / "a").string(), dir / "runs"),
            dir / "runs" / "a" / "latest.pt");
  EXPECT_EQ(resolve_checkpoint("a", dir / "runs"), dir / "runs" / "a" / "latest.pt");
  EXPECT_THROW(resolve_checkpoint("nope", dir / "runs"), InputError);
}

TEST(LrSchedule, WarmupCosineStepAndPlateau) {
  ScheduleConfig config;
  config.kind = "cosine";
  config.warmup_epochs = 1;
  config.warmup_start_factor = 0.1;
  LrSchedule cosine(config, 0.1, 11, 10);
  EXPECT_NEAR(cosine.lr_at(0, 0), 0.01, 1e-12);
  EXPECT_NEAR(cosine.lr_at(0, 5), 0.055, 1e-12);
  EXPECT_NEAR(cosine.lr_at(1, 0), 0.1, 1e-12);
  EXPECT_NEAR(cosine.lr_at(6, 0), 0.05, 1e-12);
  EXPECT_LT(cosine.lr_at(10, 9), 0.001);

  config.kind = "plateau";
  config.warmup_epochs = 0;
  config.plateau_patience = 2;
  config.plateau_factor = 0.5;
  LrSchedule plateau(config, 0.1, 100, 10);
  EXPECT_FALSE(plateau.end_of_epoch(0.5));
  EXPECT_FALSE(plateau.end_of_epoch(0.4));
  EXPECT_TRUE(plateau.end_of_epoch(0.45));  // second epoch without gain
  EXPECT_NEAR(plateau.lr_at(3, 0), 0.05, 1e-12);
  EXPECT_FALSE(plateau.end_of_epoch(0.6));
  EXPECT_NEAR(plateau.lr_at(4, 0), 0.05, 1e-12);

  config.kind = "step";
  config.step_epochs = 3;
  config.step_gamma = 0.1;
  LrSchedule step(config, 1.0, 10, 1);
  EXPECT_NEAR(step.lr_at(2, 0), 1.0, 1e-12);
  EXPECT_NEAR(step.lr_at(3, 0), 0.1, 1e-12);
  EXPECT_NEAR(step.lr_at(7, 0), 0.01, 1e-12);
}

TEST(ConfusionMatrix, MetricsFromCounts) {
  ConfusionMatrix m(3);
  // truth 0: 8 right, 2 as 1; truth 1: 5 right; truth 2: 1 as 0, never predicted 2.
  m.add(0, 0, 8);
  m.add(0, 1, 2);
  m.add(1, 1, 5);
  m.add(2, 0, 1);
  EXPECT_EQ(m.total(), 16);
  EXPECT_DOUBLE_EQ(m.accuracy(), 13.0 / 16.0);
  const ClassMetrics c0 = m.class_metrics(0);
  EXPECT_DOUBLE_EQ(c0.precision, 8.0 / 9.0);
  EXPECT_DOUBLE_EQ(c0.recall, 0.8);
  EXPECT_EQ(c0.support, 10);
  EXPECT_DOUBLE_EQ(m.class_metrics(2).precision, 0.0);
  EXPECT_DOUBLE_EQ(m.class_metrics(2).f1, 0.0);
  ConfusionMatrix other(3);
  other.add(2, 2, 3);
  m.merge(other);
  EXPECT_EQ(m.count(2, 2), 3);
  EXPECT_DOUBLE_EQ(m.class_metrics(2).recall, 0.75);
  const double f1_0 = 2 * (8.0 / 9) * 0.8 / (8.0 / 9 + 0.8), f1_1 = 2 * (5.0 / 7) / (5.0 / 7 + 1);
  EXPECT_NEAR(m.macro_f1(), (f1_0 + f1_1 + 2 * 0.75 / 1.75) / 3, 1e-12);
  EXPECT_THROW(m.merge(ConfusionMatrix(4)), std::invalid_argument);
}

}  // namespace
}  // namespace fer
