#pragma once
// fer-train's side of the coordinator: rank 0 starts the embedded one (unless
// coordinator.address names a fer-coordinator), every rank opens a client to it, and
// the trainer hands over what the coordinator keeps — each rank's evaluation counts,
// rank 0's checkpoints — without waiting for it. At the end every rank waits (up to
// coordinator.flush_timeout_seconds) until all it sent is acknowledged, so when
// fer-train exits 0, metrics.jsonl and the checkpoints are on disk.
// When the coordinator goes away, the link warns at once and keeps everything in
// memory while it reconnects; checkpoints still unacknowledged at the end are written
// to <checkpoint.dir>/<run>/unsent/ and the run fails (exit 1), as it does when the
// coordinator could not store a checkpoint (disk full). No LibTorch.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/train_config.hpp"
#include "dist/process_group.hpp"

namespace fer {
namespace coord {
class CoordinatorServer;
class CoordinatorClient;
}  // namespace coord

class CoordinatorLink {
 public:
  // Collective: every rank of `group` calls it with the same arguments. `resume_epoch`
  // is the epoch the run continues after (0 for a fresh start): the coordinator drops
  // what it holds of later epochs. `say` prints a line on rank 0.
  // `run_secret` is the run's own (every rank's Hello carries it); `drop_later` allows
  // resuming from before the run's latest checkpoint (the later ones are deleted).
  CoordinatorLink(const TrainConfig& config, const std::string& run, const std::string& run_secret,
                  int resume_epoch, bool drop_later, ProcessGroup& group,
                  const std::function<void(const std::string&)>& say);
  ~CoordinatorLink();  // without finish(): tells the coordinator the run stopped early
  CoordinatorLink(const CoordinatorLink&) = delete;
  CoordinatorLink& operator=(const CoordinatorLink&) = delete;

  // This rank's counts of `split` after `epoch` (classes x classes, row-major);
  // `extra` (rank 0) goes into the metrics line.
  void report_eval(const std::string& split, int epoch, const std::vector<std::int64_t>& counts,
                   int classes, double loss_sum, std::int64_t samples, const nlohmann::json& extra);
  void upload_checkpoint(int epoch, std::int64_t step, std::string bytes,
                         const nlohmann::json& metrics);
  void progress(int epoch, std::int64_t step);
  // Problems the coordinator reported since the last call, one line each.
  std::vector<std::string> problems();
  // Collective: the epochs of checkpoints that the coordinator refused or could not
  // store so far (known on rank 0, shared with every rank); cumulative.
  std::vector<int> lost_checkpoints();

  struct Outcome {
    bool complete = false;          // everything every rank sent was acknowledged
    std::vector<int> lost_epochs;   // checkpoints not stored (refused, failed, unsent)
    std::string unsent_dir;         // where unsent checkpoints were written, if any
    nlohmann::json best = nullptr;  // the run's best checkpoint as the coordinator keeps it
  };
  // Collective: waits for every rank's acknowledgements, asks for the run's best
  // checkpoint, then stops the embedded coordinator. What was lost is said, once.
  Outcome finish();

  std::string describe() const { return description_; }

 private:
  // The stall watch's verdict: the first other rank without heartbeats for longer
  // than `stall_seconds`, in one line; "" when every rank beats.
  std::string stalled_rank(double stall_seconds, bool embedded) const;

  ProcessGroup& group_;
  std::function<void(const std::string&)> say_;
  double flush_timeout_, connect_timeout_;
  std::string fallback_dir_;  // <checkpoint.dir>/<run>/unsent
  std::vector<int> lost_;     // rank 0: epochs whose checkpoint was not stored
  std::unique_ptr<coord::CoordinatorServer> embedded_;
  std::unique_ptr<coord::CoordinatorClient> client_;
  std::string description_;
  bool finished_ = false;
};

}  // namespace fer
