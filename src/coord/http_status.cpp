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

#include <boost/beast/http.hpp>

#include "http/http_server.hpp"

namespace fer::coord {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// Our pages take no input: anything larger than a few headers is not meant for us.
constexpr std::uint64_t kBodyLimit = 8 * 1024;
// The page is for a few people and one Prometheus; beyond this many open connections
// new ones are closed at once rather than letting them exhaust file descriptors.
constexpr std::size_t kMaxSessions = 256;

#ifdef FER_VERSION
constexpr const char* kServerName = "fer-coordinator/" FER_VERSION;
#else
constexpr const char* kServerName = "fer-coordinator";
#endif

Response make_response(const Request& req, http::status status, std::string_view content_type,
                       std::string body) {
  return fer::http::make_response(req, status, kServerName, content_type, std::move(body));
}

// What the pages are made of: the status document, and the token they need (if any).
struct Site {
  StatusSource status;
  std::string token;
};

Response handle_request(const Request& req, const Site& site) {
  const StatusSource& status = site.status;
  const std::string_view target(req.target().data(), req.target().size());
  const std::string_view path = fer::http::path_of(target);
  if (!fer::http::authorised(req, site.token)) {
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

// --- Prometheus text exposition format 0.0.4 ---------------------------------------

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
        line += fer::http::prometheus_label(labels[i].second);
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

struct HttpStatusServer::Impl {
  std::unique_ptr<fer::http::Server> server;
};

HttpStatusServer::HttpStatusServer(asio::io_context& io, const tcp::endpoint& endpoint,
                                   StatusSource status, std::string token)
    : impl_(std::make_shared<Impl>()) {
  if (!status) throw std::invalid_argument("HttpStatusServer: the status source is empty");
  auto site = std::make_shared<const Site>(Site{std::move(status), std::move(token)});
  fer::http::ServerOptions options;
  options.name = kServerName;
  options.what = "status page";
  options.body_limit = kBodyLimit;
  options.max_sessions = kMaxSessions;
  impl_->server = std::make_unique<fer::http::Server>(
      io, endpoint,
      [site](const Request& req, fer::http::Respond respond) {
        respond(handle_request(req, *site));
      },
      std::move(options));
}

HttpStatusServer::~HttpStatusServer() {
  if (impl_ && impl_->server) impl_->server->stop();
}

unsigned short HttpStatusServer::port() const {
  return impl_->server->port();
}

void HttpStatusServer::stop() {
  impl_->server->stop();
}

}  // namespace fer::coord
