#pragma once
// Error types shared by every tool. Messages always carry where the problem is
// (file and line, file name, rank or key) and what was expected, because users
// read them without the source at hand.

#include <stdexcept>
#include <string>

namespace fer {

// Something the user gave us is wrong: a malformed row, a corrupt image, a bad
// option. Tools exit with kExitInputError for these.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Stored data is damaged: a truncated or tampered shard, a checksum mismatch.
class CorruptDataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown on every rank of a job at the same point, after the ranks agreed that
// something is wrong (say, a rank's configuration differs from rank 0's): the job
// ends normally with `exit_code`, no rank is aborted. Only ranks with `report` set
// print the message, so the user reads it once.
class JobWideError : public std::runtime_error {
 public:
  JobWideError(const std::string& message, int exit_code, bool report)
      : std::runtime_error(message), exit_code_(exit_code), report_(report) {}
  int exit_code() const { return exit_code_; }
  bool report() const { return report_; }

 private:
  int exit_code_;
  bool report_;
};

// Exit codes used by all executables.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;     // I/O failure, internal error
inline constexpr int kExitInputError = 2;  // bad input or usage
inline constexpr int kExitCorrupt = 3;     // damaged stored data

}  // namespace fer
