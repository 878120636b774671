#pragma once
// The coordinator's page for people, on its own port (Boost.Beast, HTTP/1.1):
//   GET /status   the status document as JSON (see StatusSource)
//   GET /metrics  the same figures in the Prometheus text exposition format 0.0.4
//   GET /         a self-contained dashboard (no external scripts or fonts) that
//                 fetches /status every few seconds and draws the loss and accuracy
//                 curves and the latest confusion matrix as a heat map
// Anything else is 404; methods other than GET/HEAD are 405. It runs on the
// coordinator's io_context, so the status callback is called on that thread and
// needs no locking.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace fer::coord {

// The /status document, built fresh for every request. Its shape (the dashboard and
// /metrics read these keys; absent optional keys are simply not shown):
// {
//   "server": {"version": "0.1.0", "uptime_seconds": 12.5, "listen": "127.0.0.1:7070",
//              "connections": 3, "frames_received": 1234, "frames_refused": 2,
//              "reports_received": 40, "bytes_ingested": 123456789},
//   "runs": [{
//     "run": "tiny-20261201-101500", "world_size": 2,
//     "state": "running" | "finished" | "aborted",  "abort_reason": "rank 1: ...",
//     "ranks": [{"rank": 0, "host": "vm", "pid": 123, "connected": true,
//                "heartbeat_age_seconds": 0.8, "epoch": 3, "step": 120}],
//     "epoch": 3,
//     "metrics": [ ...every metrics.jsonl line of the run, oldest first: each has
//                  "epoch", "split", and e.g. "train_loss", "train_accuracy",
//                  "val_loss", "val_accuracy", "val_macro_f1",
//                  "val_confusion_matrix" (row-major classes×classes counts) ... ],
//     "class_names": ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"],
//     "pending_evals": [{"split": "val", "epoch": 4, "reported_ranks": [0],
//                        "missing_ranks": [1], "overdue": false}],
//     "checkpoints": [{"file": "epoch-0003.pt", "epoch": 3, "step": 120, "bytes": 4800000,
//                      "sha256": "...", "time": "2026-12-01T10:15:00Z",
//                      "metrics": {"val_accuracy": 0.61}}],
//     "latest": "epoch-0003.pt", "best": "epoch-0002.pt"
//   }]
// }
using StatusSource = std::function<nlohmann::json()>;

// Renders the status document as Prometheus text: fer_coordinator_* gauges and
// counters, per-run labels {run="..."} and per-rank {run="...",rank="0"}.
std::string prometheus_text(const nlohmann::json& status);

// The dashboard page (HTML with inline CSS and JavaScript).
const std::string& dashboard_html();

class HttpStatusServer {
 public:
  // Binds at once (throws std::runtime_error naming the address when it cannot);
  // port 0 picks a free port, see port(). With a `token`, every page answers 401
  // unless the request carries it (`Authorization: Bearer TOKEN`, as Prometheus sends
  // it, or `?token=TOKEN`, which the dashboard passes on to its own requests).
  HttpStatusServer(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint,
                   StatusSource status, std::string token = "");
  ~HttpStatusServer();
  HttpStatusServer(const HttpStatusServer&) = delete;
  HttpStatusServer& operator=(const HttpStatusServer&) = delete;

  unsigned short port() const;
  // Stops accepting and closes open connections (call on the io_context's thread).
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace fer::coord
