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

// Exit codes used by all executables.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;     // I/O failure, internal error
inline constexpr int kExitInputError = 2;  // bad input or usage
inline constexpr int kExitCorrupt = 3;     // damaged stored data

}  // namespace fer
