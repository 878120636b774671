#include "http/http_server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>

#include "common/sha256.hpp"

namespace fer::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

// Bounds what the read buffer may grow to beyond one request's headers and body (a
// pipelined request behind it).
constexpr std::size_t kBufferSlack = 64 * 1024;
// How long and how much a connection we are closing may still send (see drain()).
constexpr std::chrono::seconds kDrainTimeout{2};
constexpr std::size_t kDrainLimit = 1024 * 1024;
// After an accept error such as EMFILE, wait before trying again instead of spinning.
constexpr std::chrono::milliseconds kAcceptRetry{100};

struct Site {
  Handler handler;
  ServerOptions options;
};

Response error_response(const Site& site, Status status, const std::string& reason) {
  Request req;  // the request could not be read: answer as HTTP/1.1 and close
  req.version(11);
  req.keep_alive(false);
  if (site.options.error_page) {
    Response res = site.options.error_page(req, status, reason);
    res.keep_alive(false);
    return res;
  }
  return make_response(req, status, site.options.name, "text/plain; charset=utf-8", reason + "\n");
}

// One client connection: read a request, hand it to the site, write the answer, repeat
// while the client keeps the connection alive. It owns itself through the shared_ptrs
// in its pending handlers (and in a Respond not yet called); the server holds only a
// weak_ptr so that stop() can close it. Everything runs on the connection's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<const Site> site)
      : stream_(std::move(socket)),
        buffer_(site->options.body_limit + site->options.header_limit + kBufferSlack),
        site_(std::move(site)) {}

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_next(); });
  }

  void close() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      self->stream_.close();
    });
  }

 private:
  void read_next() {
    // A fresh parser per request: its limits and state apply to one message.
    parser_.emplace();
    parser_->body_limit(site_->options.body_limit);
    parser_->header_limit(site_->options.header_limit);
    stream_.expires_after(site_->options.read_timeout);
    beast_http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == beast_http::error::end_of_stream) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    if (ec == beast_http::error::body_limit) {
      write(error_response(
          *site_, Status::payload_too_large,
          "request body larger than " + std::to_string(site_->options.body_limit) + " bytes"));
      return;
    }
    if (ec == beast_http::error::header_limit) {
      write(error_response(*site_, Status::request_header_fields_too_large,
                           "request headers too large"));
      return;
    }
    if (ec &&
        ec.category() == beast_http::make_error_code(beast_http::error::bad_target).category()) {
      write(error_response(*site_, Status::bad_request, "bad request: " + ec.message()));
      return;
    }
    // Timeout (the stream has closed itself), reset, or stop(): nothing more to say.
    if (ec) return;
    request_ = parser_->release();
    stream_.expires_never();  // the site may take its time; our write has its deadline
    // The site may answer from any thread: the write goes back onto our strand.
    auto respond = [self = shared_from_this(),
                    answered = std::make_shared<std::atomic<bool>>(false)](Response res) {
      if (answered->exchange(true)) return;  // exactly once
      asio::post(self->stream_.get_executor(),
                 [self, res = std::move(res)]() mutable { self->write(std::move(res)); });
    };
    try {
      site_->handler(request_, std::move(respond));
    } catch (const std::exception& e) {
      write(make_response(request_, Status::internal_server_error, site_->options.name,
                          "text/plain; charset=utf-8",
                          std::string("internal error: ") + e.what() + "\n"));
    }
  }

  void write(Response res) {
    response_ = std::move(res);
    stream_.expires_after(site_->options.write_timeout);
    beast_http::async_write(
        stream_, response_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(beast::error_code ec) {
    if (ec) return;
    if (response_.need_eof()) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      drain(0);
      return;
    }
    read_next();
  }

  // Closing a socket with unread input makes the kernel send a reset, which can destroy
  // our answer (a 413, say) before the client reads it. So after the last answer, read
  // and discard what the client still sends, for a short while, until it closes.
  void drain(std::size_t drained) {
    if (drained > kDrainLimit) return;
    stream_.expires_after(kDrainTimeout);
    stream_.async_read_some(asio::buffer(discard_), [self = shared_from_this(), drained](
                                                        beast::error_code ec, std::size_t n) {
      if (!ec) self->drain(drained + n);
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<beast_http::request_parser<beast_http::string_body>> parser_;
  Request request_;
  Response response_;
  std::shared_ptr<const Site> site_;
  std::array<char, 4096> discard_{};
};

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(asio::io_context& io_context, const tcp::endpoint& endpoint, Handler handler,
       ServerOptions options)
      : io(io_context),
        acceptor(asio::make_strand(io_context)),
        retry(acceptor.get_executor()),
        site(std::make_shared<const Site>(Site{std::move(handler), std::move(options)})) {
    if (!site->handler) throw std::invalid_argument("http::Server: the handler is empty");
    auto fail = [&](const char* what, const beast::error_code& ec) {
      throw std::runtime_error(site->options.what + ": cannot " + std::string(what) + " " +
                               describe(endpoint) + ": " + ec.message());
    };
    beast::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (ec) fail("open a socket for", ec);
    // A restarted server must get its port back while old connections linger in
    // TIME_WAIT; on Linux this does not let two servers share the port.
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (ec) fail("set SO_REUSEADDR on", ec);
    acceptor.bind(endpoint, ec);
    if (ec) fail("bind to", ec);
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) fail("listen on", ec);
    port = acceptor.local_endpoint().port();
  }

  void start_accept() {
    // Each connection gets its own strand: handlers of one connection never overlap,
    // while connections run in parallel when the io_context has several threads.
    acceptor.async_accept(asio::make_strand(io),
                          [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
                            self->on_accept(ec, std::move(socket));
                          });
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (stopped || ec == asio::error::operation_aborted) return;
    if (ec) {
      retry.expires_after(kAcceptRetry);
      retry.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
        if (!wait_ec && !self->stopped) self->start_accept();
      });
      return;
    }
    {
      std::lock_guard<std::mutex> lock(sessions_mutex);
      sessions.erase(std::remove_if(sessions.begin(), sessions.end(),
                                    [](const std::weak_ptr<Session>& s) { return s.expired(); }),
                     sessions.end());
      if (sessions.size() < site->options.max_sessions) {
        auto session = std::make_shared<Session>(std::move(socket), site);
        sessions.push_back(session);
        session->start();
      }  // else: the socket closes as it goes out of scope.
    }
    start_accept();
  }

  void stop() {
    asio::dispatch(acceptor.get_executor(), [self = shared_from_this()] {
      if (self->stopped) return;
      self->stopped = true;
      beast::error_code ignored;
      self->acceptor.close(ignored);
      self->retry.cancel();
      std::lock_guard<std::mutex> lock(self->sessions_mutex);
      for (const auto& weak : self->sessions) {
        if (auto session = weak.lock()) session->close();
      }
      self->sessions.clear();
    });
  }

  asio::io_context& io;
  tcp::acceptor acceptor;
  asio::steady_timer retry;
  std::shared_ptr<const Site> site;
  unsigned short port = 0;
  bool stopped = false;
  std::mutex sessions_mutex;
  std::vector<std::weak_ptr<Session>> sessions;
};

Server::Server(asio::io_context& io, const tcp::endpoint& endpoint, Handler handler,
               ServerOptions options)
    : impl_(std::make_shared<Impl>(io, endpoint, std::move(handler), std::move(options))) {
  impl_->start_accept();
}

Server::~Server() {
  if (impl_) impl_->stop();
}

unsigned short Server::port() const {
  return impl_->port;
}

void Server::stop() {
  impl_->stop();
}

std::string describe(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  std::string host = address.to_string();
  if (address.is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(endpoint.port());
}

Response make_response(const Request& req, Status status, std::string_view server_name,
                       std::string_view content_type, std::string body) {
  Response res{status, req.version()};
  res.set(beast_http::field::server,
          boost::beast::string_view(server_name.data(), server_name.size()));
  res.set(beast_http::field::content_type,
          boost::beast::string_view(content_type.data(), content_type.size()));
  // Our answers are live figures and predictions: no browser or proxy keeps a copy.
  res.set(beast_http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  res.keep_alive(req.keep_alive());
  if (req.method() == beast_http::verb::head) {
    res.content_length(body.size());
  } else {
    res.body() = std::move(body);
    res.prepare_payload();
  }
  return res;
}

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find_first_of("?#"));
}

std::string_view query_value(std::string_view target, std::string_view key) {
  const auto query = target.find('?');
  if (query == std::string_view::npos) return {};
  std::string_view rest = target.substr(query + 1);
  rest = rest.substr(0, rest.find('#'));
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    if (pair.size() > key.size() && pair.substr(0, key.size()) == key && pair[key.size()] == '=')
      return pair.substr(key.size() + 1);
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return {};
}

std::string token_of(const Request& req) {
  const auto field = req[beast_http::field::authorization];
  const std::string_view authorization(field.data(), field.size());
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() > kBearer.size() && authorization.substr(0, kBearer.size()) == kBearer)
    return std::string(authorization.substr(kBearer.size()));
  const std::string_view target(req.target().data(), req.target().size());
  return std::string(query_value(target, "token"));
}

bool authorised(const Request& req, const std::string& expected) {
  return expected.empty() || secrets_match(expected, token_of(req));
}

std::string prometheus_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

}  // namespace fer::http
