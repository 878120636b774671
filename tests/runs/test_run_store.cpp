#include <gtest/gtest.h>

#include <fstream>

#include "common/error.hpp"
#include "common/sha256.hpp"
#include "runs/run_control.hpp"
#include "runs/run_directory.hpp"
#include "runs/run_lookup.hpp"
#include "test_support.hpp"

namespace fer::runs {
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

TEST(RunLookup, ResolveCheckpointPrefersThePointerAskedFor) {
  TempDir dir;
  RunDirectory run(dir / "runs" / "a", 3);
  run.commit(1, 1, "x", {{"val_accuracy", 0.9}});
  run.commit(2, 2, "y", {{"val_accuracy", 0.5}});
  EXPECT_EQ(resolve_checkpoint((dir / "runs" / "a").string(), dir / "runs", Pointer::kLatest),
            dir / "runs" / "a" / "latest.pt");
  EXPECT_EQ(resolve_checkpoint("a", dir / "runs", Pointer::kLatest),
            dir / "runs" / "a" / "latest.pt");
  EXPECT_EQ(resolve_checkpoint("a", dir / "runs", Pointer::kBest), dir / "runs" / "a" / "best.pt");
  EXPECT_EQ(fs::canonical(resolve_checkpoint("best", dir / "runs", Pointer::kLatest)),
            fs::canonical(dir / "runs" / "a" / "epoch-0001.pt"));
  EXPECT_THROW(resolve_checkpoint("nope", dir / "runs", Pointer::kLatest), InputError);
  EXPECT_THROW(resolve_checkpoint("best", dir / "empty", Pointer::kBest), InputError);
}

TEST(RunLookup, NewestRunOfAConfigSkipsOtherNamesAndRunsWithoutThePointer) {
  TempDir dir;
  RunDirectory(dir / "tiny-20261201-101500", 3).commit(1, 1, "x", {});
  RunDirectory(dir / "custom-name", 3).commit(1, 1, "x", {});  // newer, not a default name
  fs::create_directories(dir / "tiny-20261201-111500");        // newer, no checkpoint
  const auto newest = newest_run(dir.path(), Pointer::kLatest, "tiny");
  ASSERT_TRUE(newest.has_value());
  EXPECT_EQ(newest->filename(), "tiny-20261201-101500");
  EXPECT_FALSE(newest_run(dir.path(), Pointer::kLatest, "cpu").has_value());
  EXPECT_TRUE(is_default_run_name("cpu-20261202-010203", "cpu"));
  EXPECT_FALSE(is_default_run_name("cpu-2026120-010203", "cpu"));
}

TEST(RunLookup, VerifyInRunChecksAgainstTheManifestWithoutTouchingTheRun) {
  TempDir dir;
  RunDirectory run(dir / "r", 3);
  run.commit(1, 1, "checkpoint bytes", {{"val_accuracy", 0.5}});
  EXPECT_TRUE(verify_in_run(dir / "r" / "latest.pt"));
  test::write_file(dir / "loose.pt", "x");
  EXPECT_FALSE(verify_in_run(dir / "loose.pt"));  // no run manifest lists it
  // One flipped byte, same size: refused as corrupt, and a reader leaves a writer's
  // temporary file where it is (only the run's owner cleans up).
  test::write_file(dir / "r" / "epoch-0001.pt", "checkpoint bytez");
  test::write_file(dir / "r" / ".upload-1.tmp-999999999", "in flight");
  EXPECT_THROW(verify_in_run(dir / "r" / "latest.pt"), CorruptDataError);
  EXPECT_TRUE(fs::exists(dir / "r" / ".upload-1.tmp-999999999"));
}

TEST(RunDirectory, ReadOnlyOpeningKeepsTheRunsOwnRetention) {
  TempDir dir;
  RunDirectory(dir / "r", RetentionPolicy{5, 2, "val_loss"}).commit(1, 1, "x", {});
  const RunDirectory reader = RunDirectory::open_for_reading(dir / "r");
  EXPECT_EQ(reader.policy().keep_last, 5);
  EXPECT_EQ(reader.policy().keep_best, 2);
  EXPECT_EQ(reader.policy().best_metric, "val_loss");
  // Its owner reopening it with other defaults (a coordinator restarted with its own
  // --keep-last) keeps the run's retention too.
  const RunDirectory owner(dir / "r", RetentionPolicy{1, 1, "val_accuracy"});
  EXPECT_EQ(owner.policy().keep_last, 5);
  EXPECT_EQ(owner.policy().best_metric, "val_loss");
  EXPECT_THROW(RunDirectory::open_for_reading(dir / "missing"), InputError);
  EXPECT_FALSE(fs::exists(dir / "missing"));
}

TEST(RunControl, SecretIsPrivateAndComparedExactly) {
  TempDir dir;
  fs::create_directories(dir / "r");
  EXPECT_FALSE(read_run_secret(dir / "r").has_value());
  const std::string secret = random_secret();
  EXPECT_EQ(secret.size(), 32u);
  EXPECT_NE(secret, random_secret());
  write_run_secret(dir / "r", secret);
  EXPECT_EQ((fs::status(dir / "r" / "run.secret").permissions() & fs::perms::all),
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(read_run_secret(dir / "r"), secret);
  EXPECT_TRUE(secrets_match(secret, secret));
  EXPECT_FALSE(secrets_match(secret, secret.substr(1)));
  EXPECT_FALSE(secrets_match(secret, ""));
  EXPECT_THROW(write_run_secret(dir / "r", "short"), InputError);
  fs::permissions(dir / "r" / "run.secret", fs::perms::group_read, fs::perm_options::add);
  EXPECT_THROW(read_run_secret(dir / "r"), InputError);  // readable by others: refused
}

TEST(RunControl, ARunningRunWhoseServerIsGoneReadsAsAborted) {
  TempDir dir;
  {
    RunLock lock(dir / "r");
    write_run_status(dir / "r", "r", {2, RunState::kRunning, ""});
    EXPECT_TRUE(run_is_served(dir / "r"));
    EXPECT_EQ(read_run_status(dir / "r")->state, RunState::kRunning);
    EXPECT_THROW(RunLock second(dir / "r"), InputError);
  }
  EXPECT_FALSE(run_is_served(dir / "r"));
  const auto seen = read_run_status(dir / "r");
  EXPECT_EQ(seen->state, RunState::kAborted);
  EXPECT_NE(seen->abort_reason.find("ended before the run"), std::string::npos);
  EXPECT_EQ(read_run_status(dir / "r", /*as_seen_by_reader=*/false)->state, RunState::kRunning);
  EXPECT_EQ(seen->world_size, 2);
  test::write_file(dir / "r" / "coordinator.json", R"({"world_size": 1, "state": "paused"})");
  EXPECT_THROW(read_run_status(dir / "r"), CorruptDataError);
}

}  // namespace
}  // namespace fer::runs
