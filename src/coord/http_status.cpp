#include "coord/http_status.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast.hpp>

#include "runs/run_control.hpp"

namespace fer::coord {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// A client gets this long to send a whole request (and, on a kept-alive connection, the
// next one), and to take our answer, so a slow or idle client cannot pin a connection.
constexpr std::chrono::seconds kReadTimeout{30};
constexpr std::chrono::seconds kWriteTimeout{30};
// Our pages take no input: anything larger than a few headers is not meant for us.
constexpr std::uint64_t kBodyLimit = 8 * 1024;
constexpr std::uint32_t kHeaderLimit = 8 * 1024;
// Bounds what the read buffer may grow to (headers + body + a pipelined request).
constexpr std::size_t kBufferLimit = 64 * 1024;
// The page is for a few people and one Prometheus; beyond this many open connections
// new ones are closed at once rather than letting them exhaust file descriptors.
constexpr std::size_t kMaxSessions = 256;
// How long and how much a connection we are closing may still send (see drain()).
constexpr std::chrono::seconds kDrainTimeout{2};
constexpr std::size_t kDrainLimit = 1024 * 1024;
// After an accept error such as EMFILE, wait before trying again instead of spinning.
constexpr std::chrono::milliseconds kAcceptRetry{100};

#ifdef FER_VERSION
constexpr const char* kServerName = "fer-coordinator/" FER_VERSION;
#else
constexpr const char* kServerName = "fer-coordinator";
#endif

std::string describe(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  std::string host = address.to_string();
  if (address.is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(endpoint.port());
}

// Fills in everything a response needs; for HEAD only the headers (with the length the
// GET body would have) go out.
Response make_response(const Request& req, http::status status, beast::string_view content_type,
                       std::string body) {
  Response res{status, req.version()};
  res.set(http::field::server, kServerName);
  res.set(http::field::content_type, content_type);
  // The figures change every second: no browser or proxy may keep an old copy.
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  res.keep_alive(req.keep_alive());
  if (req.method() == http::verb::head) {
    res.content_length(body.size());
  } else {
    res.body() = std::move(body);
    res.prepare_payload();
  }
  return res;
}

// What the pages are made of: the status document, and the token they need (if any).
struct Site {
  StatusSource status;
  std::string token;
};

// The token a request carries: its bearer credentials, else its ?token= parameter.
std::string token_of(const Request& req, std::string_view target) {
  const auto field = req[http::field::authorization];
  const std::string_view authorization(field.data(), field.size());
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() > kBearer.size() && authorization.substr(0, kBearer.size()) == kBearer)
    return std::string(authorization.substr(kBearer.size()));
  const auto query = target.find('?');
  if (query == std::string_view::npos) return "";
  std::string_view rest = target.substr(query + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    if (pair.substr(0, 6) == "token=") return std::string(pair.substr(6));
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return "";
}

Response handle_request(const Request& req, const Site& site) {
  const StatusSource& status = site.status;
  const std::string_view target(req.target().data(), req.target().size());
  const std::string_view path = target.substr(0, target.find_first_of("?#"));
  if (!site.token.empty() && !runs::secrets_match(site.token, token_of(req, target))) {
    auto res = make_response(req, http::status::unauthorized, "text/plain; charset=utf-8",
                             "this status page needs the coordinator's token "
                             "(Authorization: Bearer TOKEN, or ?token=TOKEN)\n");
    res.set(http::field::www_authenticate, "Bearer");
    return res;
  }
  enum class Page { kStatus, kMetrics, kDashboard };
  Page page;
  if (path == "/status") {
    page = Page::kStatus;
  } else if (path == "/metrics") {
    page = Page::kMetrics;
  } else if (path == "/") {
    page = Page::kDashboard;
  } else {
    return make_response(req, http::status::not_found, "text/plain; charset=utf-8",
                         "not found: " + std::string(path) + " (try /, /status or /metrics)\n");
  }
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    auto res = make_response(req, http::status::method_not_allowed, "text/plain; charset=utf-8",
                             "method not allowed: only GET and HEAD\n");
    res.set(http::field::allow, "GET, HEAD");
    return res;
  }
  if (page == Page::kDashboard) {
    return make_response(req, http::status::ok, "text/html; charset=utf-8", dashboard_html());
  }
  // The status document is built by the coordinator's code; whatever goes wrong there is
  // reported to the client instead of taking the server down.
  try {
    const json document = status();
    if (page == Page::kStatus) {
      // Replace invalid UTF-8 (a host name, a file name) rather than fail the whole page.
      return make_response(req, http::status::ok, "application/json",
                           document.dump(-1, ' ', false, json::error_handler_t::replace));
    }
    return make_response(req, http::status::ok, "text/plain; version=0.0.4; charset=utf-8",
                         prometheus_text(document));
  } catch (const std::exception& e) {
    return make_response(req, http::status::internal_server_error, "text/plain; charset=utf-8",
                         std::string("status unavailable: ") + e.what() + "\n");
  } catch (...) {
    return make_response(req, http::status::internal_server_error, "text/plain; charset=utf-8",
                         "status unavailable: unknown error\n");
  }
}

// One client connection: read a request, answer it, repeat while the client keeps the
// connection alive. It owns itself through the shared_ptrs in its pending handlers; the
// server only holds a weak_ptr so that stop() can close it.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<const Site> status)
      : stream_(std::move(socket)), buffer_(kBufferLimit), status_(std::move(status)) {}

  void start() { read_next(); }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

 private:
  void read_next() {
    // A fresh parser per request: its limits and state apply to one message.
    parser_.emplace();
    parser_->body_limit(kBodyLimit);
    parser_->header_limit(kHeaderLimit);
    stream_.expires_after(kReadTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    if (ec == http::error::body_limit) {
      reply_and_close(http::status::payload_too_large, "request body too large\n");
      return;
    }
    if (ec == http::error::header_limit) {
      reply_and_close(http::status::request_header_fields_too_large, "request headers too large\n");
      return;
    }
    if (ec && ec.category() == http::make_error_code(http::error::bad_target).category()) {
      reply_and_close(http::status::bad_request, "bad request: " + ec.message() + "\n");
      return;
    }
    // Timeout (the stream has closed itself), reset, or stop(): nothing more to say.
    if (ec) return;
    write(handle_request(parser_->get(), *status_));
  }

  void reply_and_close(http::status status, std::string text) {
    Request req;  // The request could not be read; answer as HTTP/1.1 and close.
    req.version(11);
    req.keep_alive(false);
    write(make_response(req, status, "text/plain; charset=utf-8", std::move(text)));
  }

  void write(Response res) {
    response_ = std::move(res);
    stream_.expires_after(kWriteTimeout);
    http::async_write(
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
  std::optional<http::request_parser<http::string_body>> parser_;
  Response response_;
  std::shared_ptr<const Site> status_;
  std::array<char, 4096> discard_{};
};

// --- Prometheus text exposition format 0.0.4 ---------------------------------------

// Label values may hold anything (a run name is user input): escape what the format
// requires.
std::string escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A sample's value, or nothing when the document holds no number there.
std::optional<std::string> sample_value(const json& value) {
  if (value.is_boolean()) return std::string(value.get<bool>() ? "1" : "0");
  if (value.is_number_integer() || value.is_number_unsigned()) return value.dump();
  if (value.is_number_float()) {
    const double d = value.get<double>();
    if (std::isnan(d)) return std::string("NaN");
    if (std::isinf(d)) return std::string(d > 0 ? "+Inf" : "-Inf");
    // nlohmann prints the shortest text that reads back as the same double ("0.6").
    return value.dump();
  }
  return std::nullopt;
}

const json* member(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string label_text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

class Exposition {
 public:
  // Families print in the order they are declared here, each with HELP and TYPE once.
  void family(std::string name, std::string type, std::string help) {
    families_.push_back({std::move(name), std::move(type), std::move(help), {}});
  }

  void sample(std::string_view name,
              const std::vector<std::pair<std::string_view, std::string>>& labels,
              const json* value) {
    if (value == nullptr) return;
    const auto text = sample_value(*value);
    if (!text) return;
    auto it = std::find_if(families_.begin(), families_.end(),
                           [&](const Family& f) { return f.name == name; });
    if (it == families_.end()) throw std::logic_error("undeclared metric family");
    std::string line(name);
    if (!labels.empty()) {
      line += '{';
      for (std::size_t i = 0; i < labels.size(); ++i) {
        if (i > 0) line += ',';
        line += labels[i].first;
        line += "=\"";
        line += escape_label(labels[i].second);
        line += '"';
      }
      line += '}';
    }
    line += ' ';
    line += *text;
    line += '\n';
    it->samples.push_back(std::move(line));
  }

  std::string text() const {
    std::string out;
    for (const auto& f : families_) {
      // A family without samples would only be noise for the scraper.
      if (f.samples.empty()) continue;
      out += "# HELP " + f.name + " " + f.help + "\n";
      out += "# TYPE " + f.name + " " + f.type + "\n";
      for (const auto& s : f.samples) out += s;
    }
    return out;
  }

 private:
  struct Family {
    std::string name, type, help;
    std::vector<std::string> samples;
  };
  std::vector<Family> families_;
};

// The newest metrics line holding a number under `key`, as in the run's metrics.jsonl.
const json* last_with(const json* metrics, const char* key) {
  if (metrics == nullptr || !metrics->is_array()) return nullptr;
  for (auto it = metrics->rbegin(); it != metrics->rend(); ++it) {
    const json* value = member(*it, key);
    if (value != nullptr && sample_value(*value)) return value;
  }
  return nullptr;
}

}  // namespace

std::string prometheus_text(const json& status) {
  Exposition out;
  out.family("fer_coordinator_uptime_seconds", "gauge", "Seconds since the coordinator started.");
  out.family("fer_coordinator_connections", "gauge", "Open rank connections.");
  out.family("fer_coordinator_frames_received_total", "counter",
             "Protocol frames received from ranks.");
  out.family("fer_coordinator_frames_refused_total", "counter",
             "Protocol frames refused as malformed or out of place.");
  out.family("fer_coordinator_reports_received_total", "counter",
             "Evaluation reports received from ranks.");
  out.family("fer_coordinator_bytes_ingested_total", "counter", "Bytes received from ranks.");
  out.family("fer_run_world_size", "gauge", "Number of ranks in the run.");
  out.family("fer_run_epoch", "gauge", "Current epoch of the run.");
  out.family("fer_run_state", "gauge", "State of the run (1 for the current state).");
  out.family("fer_run_val_accuracy", "gauge", "Validation accuracy of the newest evaluation.");
  out.family("fer_run_val_loss", "gauge", "Validation loss of the newest evaluation.");
  out.family("fer_run_train_loss", "gauge", "Training loss of the newest metrics line.");
  out.family("fer_run_checkpoints", "gauge", "Checkpoints stored for the run.");
  out.family("fer_run_pending_evals", "gauge", "Evaluations still waiting for ranks.");
  out.family("fer_rank_connected", "gauge", "1 when the rank is connected.");
  out.family("fer_rank_heartbeat_age_seconds", "gauge", "Seconds since the rank's last heartbeat.");
  out.family("fer_rank_step", "gauge", "Last training step the rank reported.");

  if (const json* server = member(status, "server")) {
    out.sample("fer_coordinator_uptime_seconds", {}, member(*server, "uptime_seconds"));
    out.sample("fer_coordinator_connections", {}, member(*server, "connections"));
    out.sample("fer_coordinator_frames_received_total", {}, member(*server, "frames_received"));
    out.sample("fer_coordinator_frames_refused_total", {}, member(*server, "frames_refused"));
    out.sample("fer_coordinator_reports_received_total", {}, member(*server, "reports_received"));
    out.sample("fer_coordinator_bytes_ingested_total", {}, member(*server, "bytes_ingested"));
  }

  const json* runs = member(status, "runs");
  if (runs == nullptr || !runs->is_array()) return out.text();
  for (const json& run : *runs) {
    const json* name = member(run, "run");
    if (name == nullptr || !name->is_string()) continue;  // A run without a name has no labels.
    const std::string run_name = name->get<std::string>();
    const std::vector<std::pair<std::string_view, std::string>> run_label{{"run", run_name}};
    out.sample("fer_run_world_size", run_label, member(run, "world_size"));
    out.sample("fer_run_epoch", run_label, member(run, "epoch"));
    if (const json* state = member(run, "state"); state != nullptr && state->is_string()) {
      // The usual Prometheus "state set": every known state, 1 for the current one, so
      // that a query for state="aborted" is 0 rather than absent for a healthy run.
      const std::string current = state->get<std::string>();
      std::vector<std::string> states{"running", "finished", "aborted"};
      if (std::find(states.begin(), states.end(), current) == states.end()) {
        states.push_back(current);
      }
      for (const auto& s : states) {
        const json value = s == current ? 1 : 0;
        out.sample("fer_run_state", {{"run", run_name}, {"state", s}}, &value);
      }
    }
    const json* metrics = member(run, "metrics");
    out.sample("fer_run_val_accuracy", run_label, last_with(metrics, "val_accuracy"));
    out.sample("fer_run_val_loss", run_label, last_with(metrics, "val_loss"));
    out.sample("fer_run_train_loss", run_label, last_with(metrics, "train_loss"));
    if (const json* checkpoints = member(run, "checkpoints");
        checkpoints && checkpoints->is_array()) {
      const json count = checkpoints->size();
      out.sample("fer_run_checkpoints", run_label, &count);
    }
    if (const json* pending = member(run, "pending_evals"); pending && pending->is_array()) {
      const json count = pending->size();
      out.sample("fer_run_pending_evals", run_label, &count);
    }
    const json* ranks = member(run, "ranks");
    if (ranks == nullptr || !ranks->is_array()) continue;
    for (const json& rank : *ranks) {
      const json* id = member(rank, "rank");
      if (id == nullptr || id->is_null()) continue;
      const std::vector<std::pair<std::string_view, std::string>> rank_labels{
          {"run", run_name}, {"rank", label_text(*id)}};
      out.sample("fer_rank_connected", rank_labels, member(rank, "connected"));
      out.sample("fer_rank_heartbeat_age_seconds", rank_labels,
                 member(rank, "heartbeat_age_seconds"));
      out.sample("fer_rank_step", rank_labels, member(rank, "step"));
    }
  }
  return out.text();
}

struct HttpStatusServer::Impl : std::enable_shared_from_this<HttpStatusServer::Impl> {
  Impl(asio::io_context& io_context, const tcp::endpoint& endpoint, StatusSource source,
       std::string token)
      : acceptor(io_context),
        retry(io_context),
        status(std::make_shared<const Site>(Site{std::move(source), std::move(token)})) {
    if (!status->status)
      throw std::invalid_argument("HttpStatusServer: the status source is empty");
    auto fail = [&](const char* what, const beast::error_code& ec) {
      throw std::runtime_error("status page: cannot " + std::string(what) + " " +
                               describe(endpoint) + ": " + ec.message());
    };
    beast::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (ec) fail("open a socket for", ec);
    // A restarted coordinator must get its port back while old connections linger in
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
    acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
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
    sessions.erase(std::remove_if(sessions.begin(), sessions.end(),
                                  [](const std::weak_ptr<Session>& s) { return s.expired(); }),
                   sessions.end());
    if (sessions.size() < kMaxSessions) {
      auto session = std::make_shared<Session>(std::move(socket), status);
      sessions.push_back(session);
      session->start();
    }  // else: the socket closes as it goes out of scope.
    start_accept();
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    beast::error_code ignored;
    acceptor.close(ignored);
    retry.cancel();
    for (const auto& weak : sessions) {
      if (auto session = weak.lock()) session->close();
    }
    sessions.clear();
  }

  tcp::acceptor acceptor;
  asio::steady_timer retry;
  std::shared_ptr<const Site> status;
  unsigned short port = 0;
  bool stopped = false;
  std::vector<std::weak_ptr<Session>> sessions;
};

HttpStatusServer::HttpStatusServer(asio::io_context& io, const tcp::endpoint& endpoint,
                                   StatusSource status, std::string token)
    : impl_(std::make_shared<Impl>(io, endpoint, std::move(status), std::move(token))) {
  impl_->start_accept();
}

HttpStatusServer::~HttpStatusServer() {
  if (impl_) impl_->stop();
}

unsigned short HttpStatusServer::port() const {
  return impl_->port;
}

void HttpStatusServer::stop() {
  impl_->stop();
}

}  // namespace fer::coord
