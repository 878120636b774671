#pragma once
// Who may talk to a service off loopback: the one rule of the coordinator and
// fer-serve. On loopback no token is needed; on any other address a shared token of
// at least kMinTokenLength characters is, read from a file only its owner can read or
// from an environment variable.

#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <cstdint>
#include <string>

namespace fer::http {

inline constexpr std::size_t kMinTokenLength = 16;

// The first line of `file` (which must not be readable by group or others) or, when
// `file` is empty, the environment variable `env_var`. "" when neither is set. Throws
// InputError naming the file.
std::string load_token(const std::string& file, const char* env_var);

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_address(const std::string& address);

// Throws InputError when `address` is not loopback and `token` is missing or shorter
// than kMinTokenLength; `how` says how to give one ("--token-file FILE or FER_X").
void require_token_off_loopback(const std::string& address, const std::string& token,
                                const std::string& how);

// The endpoint to listen on: an IP address ("localhost" is 127.0.0.1) and a port.
// Throws InputError naming `what` ("--listen") when the address is not one.
boost::asio::ip::tcp::endpoint endpoint_for(const std::string& address, std::uint16_t port,
                                            const char* what);

}  // namespace fer::http
