#pragma once
// Output that is never seen half-written: files and whole directories are built
// under a temporary name beside their final place, flushed to disk, and renamed
// into place in one step. An interrupted run leaves either the previous output or
// nothing at the final path, never a mix.

#include <filesystem>
#include <string_view>

namespace fer {

// fsync a file or directory; throws naming the path on failure.
void fsync_path(const std::filesystem::path& path);

// Writes `contents` to `path` via a temporary file in the same directory, fsync and
// rename, then fsyncs the directory so the rename itself is durable.
void write_file_atomically(const std::filesystem::path& path, std::string_view contents);

// Removes `.NAME.tmp-PID` files that write_file_atomically() left in `dir` when its
// process was killed (PID no longer running on this host).
void remove_abandoned_temporaries(const std::filesystem::path& dir);

// A directory built under `.NAME.staging-PID` and swapped in as a whole by commit().
// Without commit() (an exception unwinds) the staging directory is removed and the
// previous directory at the final path is untouched. Staging directories left by a
// killed process (its pid no longer running) are removed on construction.
class StagedDirectory {
 public:
  explicit StagedDirectory(std::filesystem::path final_path);
  ~StagedDirectory();
  StagedDirectory(const StagedDirectory&) = delete;
  StagedDirectory& operator=(const StagedDirectory&) = delete;

  // Where to write the new contents.
  const std::filesystem::path& path() const { return staging_path_; }
  const std::filesystem::path& final_path() const { return final_path_; }

  // fsyncs every file, then replaces the final path atomically (Linux renameat2
  // RENAME_EXCHANGE when it already exists), then removes the old contents.
  void commit();

 private:
  std::filesystem::path final_path_;
  std::filesystem::path staging_path_;
  bool committed_ = false;
};

}  // namespace fer
