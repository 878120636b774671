#pragma once
// fer-coordinator's service: accepts ranks over TCP (protocol.hpp), keeps every run
// under <checkpoints>/<run>/ (run_state.hpp), and serves the status page
// (http_status.hpp). One io_context on one thread owns all state, so nothing is
// locked; disk writes happen on that thread before the acknowledgement is sent.
// Runs inside fer-train's rank 0 (the default) or as the fer-coordinator process.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "coord/run_state.hpp"

namespace fer::coord {

struct CoordinatorOptions {
  std::string listen_address = "127.0.0.1";  // any other address requires `token`
  std::uint16_t port = 7070;                 // 0: any free port (see port())
  int http_port = -1;                        // -1: no status page; 0: any free port
  std::string http_address = "127.0.0.1";
  std::filesystem::path checkpoints_dir = "checkpoints";
  std::string token;                  // shared secret Hello must carry ("" on loopback: none)
  double idle_timeout_seconds = 120;  // a connection silent this long is closed
  double hello_timeout_seconds = 10;  // ... or without an accepted Hello this long
  bool restore_running_runs = true;   // reopen runs left "running" by a previous process
  RunOptions run;
  bool quiet = false;
};

// Reads a token: the first line of `file` (which must not be readable by others) or,
// when `file` is empty, the environment variable FER_COORD_TOKEN. "" when neither.
std::string load_token(const std::string& file);

class CoordinatorServer {
 public:
  // Binds both ports at once; throws InputError naming the address for a bad or busy
  // one, or for a non-loopback address without a token.
  explicit CoordinatorServer(CoordinatorOptions options);
  ~CoordinatorServer();  // stops and joins
  CoordinatorServer(const CoordinatorServer&) = delete;
  CoordinatorServer& operator=(const CoordinatorServer&) = delete;

  std::uint16_t port() const;
  int http_port() const;  // -1 when off

  void run();               // serves on the calling thread until stop()
  void run_until_signal();  // the same, and SIGINT or SIGTERM stop it cleanly
  void start_in_thread();   // serves on a thread of its own
  void stop();              // from any thread; returns once serving has ended

  // The /status document (call from any thread: it is built on the service thread).
  nlohmann::json status();

  struct Impl;  // the service's state; public so that its connections can name it

 private:
  std::shared_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace fer::coord
