#include "http/access.hpp"

#include <sys/stat.h>

#include <boost/asio/ip/address.hpp>
#include <cstdlib>
#include <fstream>

#include "common/error.hpp"

namespace fer::http {

std::string load_token(const std::string& file, const char* env_var) {
  if (file.empty()) {
    const char* env = std::getenv(env_var);
    return env ? env : "";
  }
  struct stat info {};
  if (::stat(file.c_str(), &info) != 0) throw InputError(file + ": cannot read the token file");
  if (info.st_mode & (S_IRWXG | S_IRWXO))
    throw InputError(file + ": the token file is readable by others (chmod 600 " + file + ")");
  std::ifstream in(file);
  std::string token;
  std::getline(in, token);
  if (token.empty()) throw InputError(file + ": the token file is empty");
  return token;
}

bool is_loopback_address(const std::string& address) {
  if (address == "localhost") return true;
  boost::system::error_code ec;
  const auto parsed = boost::asio::ip::make_address(address, ec);
  return !ec && parsed.is_loopback();
}

void require_token_off_loopback(const std::string& address, const std::string& token,
                                const std::string& how) {
  if (is_loopback_address(address)) return;
  if (token.empty())
    throw InputError("listening on " + address + " (not loopback) requires a shared token: " + how);
  if (token.size() < kMinTokenLength)
    throw InputError("listening on " + address + " (not loopback): the shared token has " +
                     std::to_string(token.size()) + " characters, at least " +
                     std::to_string(kMinTokenLength) +
                     " are needed (e.g. head -c 24 /dev/urandom | base64 > FILE; chmod 600 FILE)");
}

boost::asio::ip::tcp::endpoint endpoint_for(const std::string& address, std::uint16_t port,
                                            const char* what) {
  boost::system::error_code ec;
  const auto parsed = boost::asio::ip::make_address(
      address == "localhost" ? std::string("127.0.0.1") : address, ec);
  if (ec) throw InputError(std::string(what) + ": '" + address + "' is not an IP address");
  return {parsed, port};
}

}  // namespace fer::http
