// fer-train's link to the coordinator in one process, with the embedded coordinator on
// loopback (real TCP): what the trainer hands over is on disk when finish() returns and
// the best checkpoint is the coordinator's answer; a run is refused to a Hello with
// another secret; an unreachable external coordinator is one clear error at its deadline.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "dist/process_group.hpp"
#include "runs/run_control.hpp"
#include "test_support.hpp"
#include "train/coordinator_link.hpp"

namespace fer {
namespace {
namespace fs = std::filesystem;

TrainConfig link_config(const fs::path& checkpoints) {
  TrainConfig config;
  config.checkpoint.dir = checkpoints.string();
  config.coordinator.http_port = -1;  // no status page
  config.coordinator.connect_timeout_seconds = 10;
  config.coordinator.flush_timeout_seconds = 20;
  return config;
}

std::vector<nlohmann::json> metrics_lines(const fs::path& run) {
  std::ifstream in(run / "metrics.jsonl");
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

// Two epochs of one rank: evaluation counts, then the checkpoint; the second is better.
void hand_over_two_epochs(CoordinatorLink& link) {
  std::vector<std::int64_t> first(49, 0), second(49, 0);  // [truth][predicted], 7 classes
  first[0 * 7 + 0] = 2;
  first[0 * 7 + 1] = 1;  // one Angry face taken for Disgust
  first[1 * 7 + 1] = 1;
  second[0 * 7 + 0] = 3;
  second[1 * 7 + 1] = 1;
  link.report_eval("val", 1, first, 7, 2.0, 4, {{"step", 10}});
  link.upload_checkpoint(1, 10, "bytes of epoch 1",
                         {{"val_accuracy", 0.75}, {"val_loss", 0.5}, {"val_macro_f1", 0.5}});
  link.report_eval("val", 2, second, 7, 1.0, 4, {{"step", 20}});
  link.upload_checkpoint(2, 20, "bytes of epoch 2",
                         {{"val_accuracy", 1.0}, {"val_loss", 0.25}, {"val_macro_f1", 1.0}});
}

TEST(CoordinatorLink, WhatTheTrainerHandsOverIsOnDiskWhenFinishReturns) {
  test::TempDir dir;
  ProcessGroup group(nullptr, nullptr);  // a world of one
  std::vector<std::string> said;
  CoordinatorLink link(link_config(dir / "checkpoints"), "link-run", runs::random_secret(), 0,
                       false, group, [&](const std::string& line) { said.push_back(line); });
  EXPECT_NE(link.describe().find("embedded coordinator on 127.0.0.1:"), std::string::npos)
      << link.describe();
  hand_over_two_epochs(link);
  const CoordinatorLink::Outcome outcome = link.finish();
  EXPECT_TRUE(outcome.complete);
  EXPECT_TRUE(outcome.lost_epochs.empty());
  ASSERT_TRUE(outcome.best.is_object()) << outcome.best.dump();
  EXPECT_EQ(outcome.best.value("epoch", 0), 2);

  const fs::path run = dir / "checkpoints" / "link-run";
  EXPECT_EQ(test::read_file(run / "epoch-0001.pt"), "bytes of epoch 1");
  EXPECT_EQ(test::read_file(run / "epoch-0002.pt"), "bytes of epoch 2");
  EXPECT_EQ(test::read_file(run / "best.pt"), "bytes of epoch 2");
  // One metrics line per epoch, the accuracy summed by the coordinator from the counts.
  const std::vector<nlohmann::json> lines = metrics_lines(run);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["epoch"], 1);
  EXPECT_DOUBLE_EQ(lines[0]["val_accuracy"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(lines[0]["val_loss"].get<double>(), 0.5);
  EXPECT_EQ(lines[0]["step"], 10);
  EXPECT_DOUBLE_EQ(lines[1]["val_accuracy"].get<double>(), 1.0);
}

TEST(CoordinatorLink, ARunIsRefusedToAHelloWithAnotherSecret) {
  test::TempDir dir;
  const TrainConfig config = link_config(dir / "checkpoints");
  ProcessGroup group(nullptr, nullptr);
  const auto quiet = [](const std::string&) {};
  {
    CoordinatorLink owner(config, "owned-run", runs::random_secret(), 0, false, group, quiet);
    hand_over_two_epochs(owner);
    ASSERT_TRUE(owner.finish().complete);
  }
  const std::string before = test::read_file(dir / "checkpoints" / "owned-run" / "metrics.jsonl");
  try {
    CoordinatorLink intruder(config, "owned-run", runs::random_secret(), 2, false, group, quiet);
    FAIL() << "a Hello with another run secret was let in";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("secret"), std::string::npos) << e.what();
  }
  EXPECT_EQ(test::read_file(dir / "checkpoints" / "owned-run" / "metrics.jsonl"), before);
  EXPECT_EQ(test::read_file(dir / "checkpoints" / "owned-run" / "epoch-0002.pt"),
            "bytes of epoch 2");
}

TEST(CoordinatorLink, AnUnreachableCoordinatorIsOneErrorAtItsDeadline) {
  test::TempDir dir;
  TrainConfig config = link_config(dir / "checkpoints");
  config.coordinator.address = "127.0.0.1:1";  // nothing listens on port 1
  config.coordinator.connect_timeout_seconds = 1;
  ProcessGroup group(nullptr, nullptr);
  const auto start = std::chrono::steady_clock::now();
  try {
    CoordinatorLink link(config, "lonely-run", runs::random_secret(), 0, false, group,
                         [](const std::string&) {});
    FAIL() << "a coordinator that does not listen was reached";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot reach the coordinator at 127.0.0.1:1 within 1 s"),
              std::string::npos)
        << e.what();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 15) << "the 1-second deadline was not kept";
}

}  // namespace
}  // namespace fer
