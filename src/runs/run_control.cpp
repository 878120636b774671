#include "runs/run_control.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/atomic_output.hpp"
#include "common/error.hpp"
#include "common/sha256.hpp"

namespace fer::runs {
namespace fs = std::filesystem;
using nlohmann::json;

const char* run_state_name(RunState state) {
  switch (state) {
    case RunState::kRunning:
      return "running";
    case RunState::kFinished:
      return "finished";
    case RunState::kAborted:
      return "aborted";
  }
  return "?";
}

RunState parse_run_state(const std::string& name, const std::string& where) {
  for (const RunState s : {RunState::kRunning, RunState::kFinished, RunState::kAborted})
    if (name == run_state_name(s)) return s;
  throw InputError(where + ": state '" + name.substr(0, 40) +
                   "' is not one of running, finished, aborted");
}

std::optional<RunStatus> read_run_status(const fs::path& dir, bool as_seen_by_reader) {
  const fs::path file = dir / kStateFile;
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  RunStatus status;
  try {
    std::ifstream in(file);
    const json doc = json::parse(in);
    status.world_size = doc.at("world_size").get<int>();
    status.state = parse_run_state(doc.value("state", "running"), file.string());
    status.abort_reason = doc.value("abort_reason", "");
  } catch (const json::exception& e) {
    throw CorruptDataError(file.string() + ": not a run state file (" + e.what() + ")");
  } catch (const InputError& e) {
    throw CorruptDataError(e.what());
  }
  if (as_seen_by_reader && status.state == RunState::kRunning && !run_is_served(dir)) {
    status.state = RunState::kAborted;
    status.abort_reason = "the process serving the run ended before the run did (killed?)";
  }
  return status;
}

void write_run_status(const fs::path& dir, const std::string& run, const RunStatus& status) {
  const json doc = {{"run", run},
                    {"world_size", status.world_size},
                    {"state", run_state_name(status.state)},
                    {"abort_reason", status.abort_reason}};
  write_file_atomically(dir / kStateFile, doc.dump(2) + "\n");
}

RunLock::RunLock(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw InputError(dir.string() + ": cannot create run directory: " + ec.message());
  const fs::path path = dir / kLockFile;
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error(path.string() + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    throw InputError(dir.string() + ": another coordinator is serving this run (lock " +
                     path.string() + " is held)");
  }
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);
}

bool run_is_served(const fs::path& dir) {
  const int fd = ::open((dir / kLockFile).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  // A shared lock is refused only while someone holds the exclusive one.
  const bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);  // releases the probe's own lock, if it got one
  return held;
}

std::string random_secret() {
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  unsigned char bytes[16];
  urandom.read(reinterpret_cast<char*>(bytes), sizeof bytes);
  if (!urandom) throw std::runtime_error("/dev/urandom: cannot read random bytes for a secret");
  static const char* hex = "0123456789abcdef";
  std::string secret;
  for (unsigned char b : bytes) secret += {hex[b >> 4], hex[b & 15]};
  return secret;
}

std::optional<std::string> read_run_secret(const fs::path& dir) {
  const fs::path file = dir / kSecretFile;
  struct stat info {};
  if (::stat(file.c_str(), &info) != 0) {
    if (errno == ENOENT) return std::nullopt;
    throw InputError(file.string() + ": cannot read the run secret: " + std::strerror(errno));
  }
  if (info.st_mode & (S_IRWXG | S_IRWXO))
    throw InputError(file.string() + ": the run secret is readable by others (chmod 600 " +
                     file.string() + ")");
  std::ifstream in(file);
  std::string secret;
  std::getline(in, secret);
  if (!in && !in.eof()) throw InputError(file.string() + ": cannot read the run secret");
  if (secret.size() < kMinSecretLength)
    throw InputError(file.string() + ": the run secret has " + std::to_string(secret.size()) +
                     " characters, at least " + std::to_string(kMinSecretLength) + " expected");
  return secret;
}

void write_run_secret(const fs::path& dir, const std::string& secret) {
  if (secret.size() < kMinSecretLength)
    throw InputError("a run secret needs at least " + std::to_string(kMinSecretLength) +
                     " characters");
  const fs::path file = dir / kSecretFile;
  const fs::path temporary =
      dir / ("." + std::string(kSecretFile) + ".tmp-" + std::to_string(::getpid()));
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error(temporary.string() + ": " + std::strerror(errno));
  const std::string line = secret + "\n";
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                       ::fchmod(fd, 0600) == 0 && ::fsync(fd) == 0;
  const int saved_errno = errno;
  ::close(fd);
  if (!written) {
    ::unlink(temporary.c_str());
    throw std::runtime_error(file.string() +
                             ": cannot write the run secret: " + std::strerror(saved_errno));
  }
  std::error_code ec;
  fs::rename(temporary, file, ec);
  if (ec)
    throw std::runtime_error(file.string() + ": cannot write the run secret: " + ec.message());
  fsync_path(dir);
}

}  // namespace fer::runs
