#pragma once
// One training run as the coordinator keeps it: its directory under checkpoints/
// (checkpoint store, metrics.jsonl, manifest.json), the ranks that reported, the
// evaluation sets being collected, and uploads in flight. Everything the service has
// acknowledged is on disk before the acknowledgement leaves, so a coordinator killed
// and restarted rebuilds the same state from the directory:
//   coordinator.json     world size, state (running / finished / aborted), reason
//   eval-reports.jsonl   journal of per-rank reports not yet aggregated (fsynced)
//   metrics.jsonl        one aggregated line per (split, epoch) (fsynced)
// No sockets here: the server feeds it decoded messages and sends back what it returns.

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/sha256.hpp"
#include "coord/eval_aggregator.hpp"
#include "coord/protocol.hpp"
#include "runs/run_control.hpp"
#include "runs/run_directory.hpp"

namespace fer::coord {

using runs::CheckpointRecord;
using runs::RetentionPolicy;
using runs::RunDirectory;

struct RunOptions {
  // For a new run; a run that has a manifest keeps the retention it was created with
  // (the trainer's checkpoint.* settings, not this server's defaults), also across a
  // restart before its rank 0 is back (RunDirectory reads it from the manifest).
  RetentionPolicy retention;
  double eval_deadline_seconds = 300;  // a set still missing ranks after this is reported
  std::vector<std::string> class_names;
  bool quiet = false;  // no per-epoch summary lines on stdout
};

// A checkpoint arriving in chunks: written to a temporary file in the run directory
// as it comes, hashed on the way, and committed only when its size and SHA-256 match.
// Destroyed unfinished (connection dropped, bad chunk), it removes its file.
class CheckpointUpload {
 public:
  CheckpointUpload(const CheckpointBegin& begin, std::filesystem::path staging,
                   bool already_stored);
  ~CheckpointUpload();
  CheckpointUpload(const CheckpointUpload&) = delete;
  CheckpointUpload& operator=(const CheckpointUpload&) = delete;

  // Throws InputError for an out-of-order offset or more bytes than announced.
  void write(const CheckpointChunk& chunk);
  // Checks size and SHA-256; throws InputError naming what differs.
  void verify();
  // Flushes the file to disk and closes it (slow for big files: the server calls it
  // off its network thread). Afterwards the staged file is the caller's (staging()).
  void flush_to_disk();
  const CheckpointBegin& begin() const { return begin_; }
  const std::filesystem::path& staging() const { return staging_; }
  bool already_stored() const { return already_stored_; }
  void release() { committed_ = true; }

 private:
  CheckpointBegin begin_;
  std::filesystem::path staging_;
  bool already_stored_;
  int fd_ = -1;
  std::uint64_t received_ = 0;
  Sha256 hash_;
  bool committed_ = false;
};

class Run {
 public:
  // Checks, before anything in `dir` is opened or changed, that `hello` may act on the
  // run there: a run that exists must be named with its own secret. Throws InputError
  // (the Hello is rejected) naming what is wrong.
  static void authenticate_on_disk(const std::filesystem::path& dir, const Hello& hello);

  // Opens (creating if needed) `dir` and restores what it holds. Takes an exclusive
  // lock on the run: a second coordinator serving the same run fails here, naming it.
  Run(std::filesystem::path dir, std::string id, int world_size, RunOptions options);
  ~Run();
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  const std::string& id() const { return id_; }
  int world_size() const { return aggregator_.world_size(); }

  // Each returns the acknowledgement to send. InputError from here becomes a
  // kRejected ack; other exceptions a kError ack (the caller logs them).
  Ack hello(const Hello& hello, int connection);
  void heartbeat(const Heartbeat& beat);
  Ack report(const EvalReport& report);
  std::unique_ptr<CheckpointUpload> begin_upload(const CheckpointBegin& begin);
  // After verify() and flush_to_disk(): stores it and moves the pointers.
  Ack finish_upload(CheckpointUpload& upload);
  Ack query(const Query& query) const;
  Ack abort(const Abort& abort);
  void disconnected(int rank, int connection);
  // Logs each evaluation set still missing ranks past the deadline, once.
  void check_deadlines();

  nlohmann::json status() const;
  std::size_t pending_reports() const { return aggregator_.pending_reports(); }

  // Group commit: report() appends a pending report to the journal without waiting
  // for the disk; its acknowledgement must wait until sync_journal() (one fdatasync
  // for every report that arrived meanwhile).
  bool journal_needs_sync() const { return journal_dirty_; }
  void sync_journal();

 private:
  struct RankInfo {
    std::string host;
    std::uint32_t pid = 0;
    std::string config_hash;
    int connection = -1;  // -1: not connected
    SteadyClock::time_point last_seen{};
    int epoch = 0;
    std::int64_t step = 0;
  };
  void save_state();
  void open_journal();
  void log(const std::string& line) const;
  void warn(const std::string& line) const;  // even when quiet
  void restore();
  void forget_after(int epoch);
  nlohmann::json checkpoint_json(const CheckpointRecord& r) const;
  nlohmann::json ranks_json() const;  // connection, heartbeat age, epoch, step per rank

  void authenticate(const Hello& hello) const;
  // Refuses a Hello that would delete what the run holds: a fresh start of a run that
  // has epochs, or a resume from before its latest checkpoint without the flag.
  void check_no_silent_loss(const Hello& hello) const;

  std::filesystem::path dir_;
  std::string id_;
  RunOptions options_;
  runs::RunLock lock_;
  bool fresh_ = false;  // nothing of the run existed when it was opened
  std::optional<std::string> secret_;
  RunDirectory store_;
  EvalAggregator aggregator_;
  nlohmann::json metrics_ = nlohmann::json::array();  // metrics.jsonl, in memory for /status
  std::map<int, RankInfo> ranks_;
  runs::RunState state_ = runs::RunState::kRunning;
  std::string abort_reason_;
  int journal_fd_ = -1;
  bool journal_dirty_ = false;
};

}  // namespace fer::coord
