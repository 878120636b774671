#include "common/atomic_output.hpp"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace fer {
namespace fs = std::filesystem;

namespace {

std::runtime_error os_error(const fs::path& path, const std::string& what) {
  return std::runtime_error(path.string() + ": " + what + ": " + std::strerror(errno));
}

// RAII for a POSIX file descriptor.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  // Closes now so that a failing close (deferred write error) is reported.
  void close_or_throw(const fs::path& path) {
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw os_error(path, "close failed");
  }

 private:
  int fd_;
};

fs::path parent_or_dot(const fs::path& path) {
  return path.has_parent_path() ? path.parent_path() : fs::path(".");
}

// A zombie counts as gone: it has exited and will write nothing more, and in a
// container whose PID 1 does not reap, it stays a zombie for ever (kill(pid, 0) still
// succeeds on it).
bool process_is_running(long pid) {
  if (pid <= 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;  // no /proc: trust kill()
  const auto after_name = line.rfind(')');     // the name may hold spaces and ')'
  if (after_name == std::string::npos || after_name + 2 >= line.size()) return true;
  const char state = line[after_name + 2];
  return state != 'Z' && state != 'X';
}

// Removes `.NAME.staging-PID` directories whose process is gone.
void remove_abandoned_staging(const fs::path& final_path) {
  const fs::path parent = parent_or_dot(final_path);
  const std::string prefix = "." + final_path.filename().string() + ".staging-";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(parent, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (!process_is_running(pid)) fs::remove_all(entry.path(), ec);
  }
}

}  // namespace

void remove_abandoned_temporaries(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const auto marker = name.rfind(".tmp-");
    if (name.empty() || name[0] != '.' || marker == std::string::npos) continue;
    const long pid = std::strtol(name.c_str() + marker + 5, nullptr, 10);
    if (!process_is_running(pid)) fs::remove(entry.path(), ec);
  }
}

void fsync_path(const fs::path& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw os_error(path, "cannot open for fsync");
  if (::fsync(fd.get()) != 0) throw os_error(path, "fsync failed");
}

void write_file_atomically(const fs::path& path, std::string_view contents) {
  const fs::path temporary =
      parent_or_dot(path) / ("." + path.filename().string() + ".tmp-" + std::to_string(::getpid()));
  try {
    FileDescriptor fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) throw os_error(temporary, "cannot create");
    const char* data = contents.data();
    std::size_t left = contents.size();
    while (left > 0) {
      ssize_t written = ::write(fd.get(), data, left);
      if (written < 0) {
        if (errno == EINTR) continue;
        throw os_error(temporary, "write failed");
      }
      data += written;
      left -= static_cast<std::size_t>(written);
    }
    if (::fsync(fd.get()) != 0) throw os_error(temporary, "fsync failed");
    fd.close_or_throw(temporary);
    if (::rename(temporary.c_str(), path.c_str()) != 0) throw os_error(path, "rename failed");
  } catch (...) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    throw;
  }
  fsync_path(parent_or_dot(path));
}

StagedDirectory::StagedDirectory(fs::path final_path) : final_path_(std::move(final_path)) {
  if (final_path_.filename().empty()) final_path_ = final_path_.parent_path();
  const fs::path parent = parent_or_dot(final_path_);
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw std::runtime_error(parent.string() + ": cannot create directory: " + ec.message());
  remove_abandoned_staging(final_path_);
  staging_path_ =
      parent / ("." + final_path_.filename().string() + ".staging-" + std::to_string(::getpid()));
  fs::remove_all(staging_path_, ec);
  if (!fs::create_directory(staging_path_, ec) || ec)
    throw std::runtime_error(staging_path_.string() + ": cannot create directory: " +
                             (ec ? ec.message() : std::string("already exists")));
}

StagedDirectory::~StagedDirectory() {
  if (committed_) return;
  std::error_code ignored;
  fs::remove_all(staging_path_, ignored);
}

void StagedDirectory::commit() {
  // Every file and every directory entry must be on disk before the swap; a
  // directory after its children.
  std::vector<fs::path> directories;
  for (const auto& entry : fs::recursive_directory_iterator(staging_path_)) {
    if (entry.is_regular_file())
      fsync_path(entry.path());
    else if (entry.is_directory())
      directories.push_back(entry.path());
  }
  for (auto it = directories.rbegin(); it != directories.rend(); ++it) fsync_path(*it);
  fsync_path(staging_path_);

  std::error_code ec;
  if (fs::exists(final_path_, ec)) {
    // Swap both names in one step: at every instant the final path holds a
    // complete directory, old or new.
    if (::renameat2(AT_FDCWD, staging_path_.c_str(), AT_FDCWD, final_path_.c_str(),
                    RENAME_EXCHANGE) != 0) {
      if (errno != EINVAL && errno != ENOSYS) throw os_error(final_path_, "cannot replace");
      // File systems without RENAME_EXCHANGE: move the old one aside first.
      const fs::path aside = staging_path_.string() + ".old";
      if (::rename(final_path_.c_str(), aside.c_str()) != 0)
        throw os_error(final_path_, "cannot move aside");
      if (::rename(staging_path_.c_str(), final_path_.c_str()) != 0) {
        ::rename(aside.c_str(), final_path_.c_str());
        throw os_error(final_path_, "cannot rename into place");
      }
      fs::rename(aside, staging_path_, ec);
    }
    committed_ = true;
    fsync_path(parent_or_dot(final_path_));
    fs::remove_all(staging_path_, ec);  // the previous contents
  } else {
    if (::rename(staging_path_.c_str(), final_path_.c_str()) != 0)
      throw os_error(final_path_, "cannot rename into place");
    committed_ = true;
    fsync_path(parent_or_dot(final_path_));
  }
}

}  // namespace fer
