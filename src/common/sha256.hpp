#pragma once
// SHA-256 through OpenSSL (hardware-accelerated where the CPU has SHA or AVX2).
// Chosen over a faster non-cryptographic hash so that users can check shards and
// checkpoints with the standard `sha256sum` tool.

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

namespace fer {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, std::size_t size);
  // Lower-case hex digest; the object must not be updated afterwards.
  std::string hex_digest();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

// Digest of a whole file; throws std::runtime_error naming the file if it cannot be read.
std::string sha256_file(const std::filesystem::path& path);

// Equal, in time that does not depend on where they differ (or on their lengths); an
// empty `given` never matches. For secrets and tokens.
bool secrets_match(const std::string& expected, const std::string& given);

}  // namespace fer
