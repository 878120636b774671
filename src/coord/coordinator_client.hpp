#pragma once
// A rank's link to the coordinator. Training never waits on it: every call queues
// and returns, a background thread (its own io_context) connects, says Hello, sends
// in order and collects acknowledgements. A dropped connection is reconnected with
// exponential backoff (0.1 s doubling to 5 s), Hello is said again, and everything
// not yet acknowledged is sent again (the server deduplicates; see protocol.hpp).
// Checkpoints are streamed from the queued bytes in 1 MiB chunks beside training.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "coord/protocol.hpp"

namespace fer::coord {

struct ClientOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7070;
  Hello hello;  // run, rank, world size, host, pid, config hash, token, resume, config
  double heartbeat_seconds = 5;
  // No progress (connect, send, acknowledgement) for this long: reconnect. Generous,
  // because the server fsyncs a large checkpoint before it answers.
  double io_timeout_seconds = 120;
  double max_backoff_seconds = 5;
  // Called on the client's thread when the connection is lost and when it is back,
  // so that the trainer says so at once instead of at the end.
  std::function<void(const std::string&)> on_warning;
  // Every this many seconds, ask the coordinator for every rank's heartbeat age
  // ("ranks" query), for the stall watch (watched_ranks()). 0: off.
  double watch_ranks_seconds = 0;
};

// The last answer of the stall watch.
struct WatchedRanks {
  nlohmann::json ranks = nlohmann::json::array();  // as the coordinator's "ranks" query
  double answer_age_seconds = -1;                  // since that answer; -1: none yet
  double asked_age_seconds = -1;  // since the oldest question still unanswered; -1: none
};

// A checkpoint still unacknowledged when the client stopped (the coordinator was
// unreachable): the caller keeps it somewhere else.
struct UnsentCheckpoint {
  int epoch = 0;
  std::shared_ptr<std::string> bytes;
};

struct FlushResult {
  bool complete = false;           // every queued message acknowledged
  std::size_t unacknowledged = 0;  // what was still waiting at the deadline
  std::string last_error;          // the last connection problem seen, if any
};

class CoordinatorClient {
 public:
  explicit CoordinatorClient(ClientOptions options);
  ~CoordinatorClient();  // stops the thread; what is not acknowledged by then is lost
  CoordinatorClient(const CoordinatorClient&) = delete;
  CoordinatorClient& operator=(const CoordinatorClient&) = delete;

  // The counts of one split and epoch on this rank (seq and rank are filled in).
  void report_eval(EvalReport report);
  // A serialised checkpoint; its SHA-256 is computed on the client thread.
  void upload_checkpoint(int epoch, std::int64_t step, std::string bytes,
                         const nlohmann::json& metrics);
  // Progress shown on the status page; sent with the next heartbeat.
  void progress(int epoch, std::int64_t step);
  // The end of this rank's part: empty reason = finished normally; else aborted.
  void end(const std::string& reason);

  // Waits until everything queued so far is acknowledged, or `seconds` pass, or the
  // coordinator has been unreachable for `give_up_disconnected_seconds` on end.
  FlushResult flush(double seconds, double give_up_disconnected_seconds = 1e30);
  // Asks the coordinator (status | latest | best); throws std::runtime_error when no
  // answer comes within `seconds`.
  nlohmann::json query(const std::string& what, double seconds);
  // Messages the coordinator refused (kRejected/kError) since the last call; each is
  // "what: why". The trainer prints them.
  std::vector<std::string> take_problems();
  // Epochs of the checkpoints the coordinator refused or failed to store (disk full,
  // …), since the last call; the reasons are among take_problems().
  std::vector<int> take_lost_checkpoints();
  // Stops the client (as the destructor does) and hands over the checkpoints that
  // were never acknowledged; nothing is sent after this.
  std::vector<UnsentCheckpoint> stop_and_take_unsent();
  // What the stall watch knows now (watch_ranks_seconds > 0).
  WatchedRanks watched_ranks() const;
  // Waits until the Hello is acknowledged; false after `seconds` or when it was
  // refused (take_problems() says why).
  bool wait_connected(double seconds);
  std::string last_error() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace fer::coord
