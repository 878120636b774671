#pragma once
// Who may act on a run, and what state it is in. Beside the store (run_directory.hpp)
// a run directory holds:
//   run.secret          the run's own secret (mode 600), created with the run: every
//                       connection to the coordinator for this run must prove it
//                       knows it, so no other user of the machine can touch the run
//   coordinator.json    world size and state (running / finished / aborted), reason
//   .coordinator.lock   held (flock) by the one process serving the run
// A run whose state file says "running" while nobody holds the lock was abandoned
// (its server was killed): run_status() reports it as aborted.

#include <filesystem>
#include <optional>
#include <string>

namespace fer::runs {

inline constexpr const char* kSecretFile = "run.secret";
inline constexpr const char* kStateFile = "coordinator.json";
inline constexpr const char* kLockFile = ".coordinator.lock";
inline constexpr std::size_t kMinSecretLength = 16;

enum class RunState { kRunning, kFinished, kAborted };
const char* run_state_name(RunState state);
// Throws InputError naming `where` for anything but the three names.
RunState parse_run_state(const std::string& name, const std::string& where);

struct RunStatus {
  int world_size = 1;
  RunState state = RunState::kRunning;
  std::string abort_reason;
};

// coordinator.json of `dir`; nullopt when the run has none. CorruptDataError when it
// cannot be read. With `as_seen_by_reader`, a "running" run whose lock is free is
// reported as aborted (the reason says so).
std::optional<RunStatus> read_run_status(const std::filesystem::path& dir,
                                         bool as_seen_by_reader = true);
void write_run_status(const std::filesystem::path& dir, const std::string& run,
                      const RunStatus& status);

// The exclusive lock of the process serving a run, released by the kernel when that
// process dies (kill -9 included). Throws InputError when another process holds it.
class RunLock {
 public:
  explicit RunLock(const std::filesystem::path& dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};
// True while some process holds `dir`'s lock.
bool run_is_served(const std::filesystem::path& dir);

// 128 bits from the kernel's random source, as 32 hex digits.
std::string random_secret();
// `dir`/run.secret: nullopt when absent; InputError when group or others may read it
// or it is shorter than kMinSecretLength.
std::optional<std::string> read_run_secret(const std::filesystem::path& dir);
// Writes `dir`/run.secret with mode 600 (atomically, durable).
void write_run_secret(const std::filesystem::path& dir, const std::string& secret);

}  // namespace fer::runs
