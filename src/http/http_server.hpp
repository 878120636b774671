#pragma once
// The HTTP/1.1 server that the coordinator's status page and fer-serve share. What it
// does for every site: a fresh parser per request with a body and a header limit,
// a deadline on every read and write (an idle or slow client cannot pin a
// connection), a cap on open connections (new ones beyond it are closed at once), a
// pause after an accept error such as EMFILE instead of a busy loop, and a short
// drain after the last answer so that a 413 is read before the socket resets.
//
// A site is one Handler. It gets each request and a Respond callback that it must
// call exactly once, at once or later and from any thread (fer-serve answers from its
// batching thread): the answer is written on the connection's own strand.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace fer::http {

namespace beast_http = boost::beast::http;
using Request = beast_http::request<beast_http::string_body>;
using Response = beast_http::response<beast_http::string_body>;
using Status = beast_http::status;
using Respond = std::function<void(Response)>;
using Handler = std::function<void(const Request&, Respond)>;
// The answer to a request that could not be read (too large, malformed): the status
// and a one-line reason. Sites choose its format (plain text, JSON).
using ErrorPage = std::function<Response(const Request&, Status, const std::string& reason)>;

struct ServerOptions {
  std::string name = "fer";     // the Server header ("fer-serve/0.1.0")
  std::string what = "server";  // in error messages ("status page")
  std::uint64_t body_limit = 8 * 1024;
  std::uint32_t header_limit = 8 * 1024;
  std::size_t max_sessions = 256;
  std::chrono::milliseconds read_timeout{30'000};   // a whole request, or the next one
  std::chrono::milliseconds write_timeout{30'000};  // our whole answer
  ErrorPage error_page;                             // empty: plain text
};

class Server {
 public:
  // Binds at once (throws std::runtime_error naming the address when it cannot); port 0
  // picks a free port, see port(). Run `io` on one thread or many.
  Server(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint,
         Handler handler, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  unsigned short port() const;
  // Stops accepting and closes open connections (thread-safe).
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// "127.0.0.1:7070", "[::1]:7070".
std::string describe(const boost::asio::ip::tcp::endpoint& endpoint);

// A response with everything it needs (server name, type, no-store, nosniff,
// keep-alive as asked); for HEAD the headers only, with the GET body's length.
Response make_response(const Request& req, Status status, std::string_view server_name,
                       std::string_view content_type, std::string body);

// The request target's path ("/v1/predict" of "/v1/predict?top_k=3").
std::string_view path_of(std::string_view target);
// The raw value of query parameter `key` ("" when absent; no percent-decoding: our
// parameters are tokens and numbers).
std::string_view query_value(std::string_view target, std::string_view key);
// The token a request carries: its bearer credentials, else its ?token= parameter.
std::string token_of(const Request& req);
// True when `expected` is empty (no token needed) or the request carries it
// (compared in constant time).
bool authorised(const Request& req, const std::string& expected);

// A Prometheus label value (text format 0.0.4) with \\, \" and newlines escaped: label
// values hold user input (run names, file names).
std::string prometheus_label(std::string_view value);

}  // namespace fer::http
