// HttpStatusServer over real TCP on 127.0.0.1: the server runs on an io_context in a
// thread of its own, as in the coordinator; the tests talk to it with blocking Beast
// clients.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast.hpp>
#include <nlohmann/json.hpp>

#include "coord/http_status.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using fer::coord::HttpStatusServer;
using nlohmann::json;

constexpr const char* kOddRunName = "odd \"run\" \\ name\nline two";

// Three aggregated lines of a 7-class run, a run of 2 ranks, 2 checkpoints; plus a
// second run whose name needs escaping in Prometheus labels.
json make_status() {
  auto cm = [](int diagonal) {
    json m = json::array();
    for (int r = 0; r < 7; ++r) {
      for (int c = 0; c < 7; ++c) m.push_back(r == c ? diagonal + r : (r + c) % 3);
    }
    return m;
  };
  return json{
      {"server",
       {{"version", "0.1.0"},
        {"uptime_seconds", 12.5},
        {"listen", "127.0.0.1:7070"},
        {"connections", 3},
        {"frames_received", 1234},
        {"frames_refused", 2},
        {"reports_received", 40},
        {"bytes_ingested", 123456789}}},
      {"runs", json::array({{{"run", "r1"},
                             {"world_size", 2},
                             {"state", "running"},
                             {"epoch", 3},
                             {"ranks", json::array({{{"rank", 0},
                                                     {"host", "node-a"},
                                                     {"pid", 4100},
                                                     {"connected", true},
                                                     {"heartbeat_age_seconds", 0.8},
                                                     {"epoch", 3},
                                                     {"step", 120}},
                                                    {{"rank", 1},
                                                     {"host", "node-b"},
                                                     {"pid", 4200},
                                                     {"connected", false},
                                                     {"heartbeat_age_seconds", 42.25},
                                                     {"epoch", 3},
                                                     {"step", 118}}})},
                             {"metrics", json::array({{{"epoch", 1},
                                                       {"split", "val"},
                                                       {"train_loss", 1.8},
                                                       {"train_accuracy", 0.3},
                                                       {"val_loss", 1.7},
                                                       {"val_accuracy", 0.35},
                                                       {"val_macro_f1", 0.3},
                                                       {"val_confusion_matrix", cm(10)}},
                                                      {{"epoch", 2},
                                                       {"split", "val"},
                                                       {"train_loss", 1.4},
                                                       {"train_accuracy", 0.45},
                                                       {"val_loss", 1.3},
                                                       {"val_accuracy", 0.5},
                                                       {"val_macro_f1", 0.45},
                                                       {"val_confusion_matrix", cm(20)}},
                                                      {{"epoch", 3},
                                                       {"split", "val"},
                                                       {"train_loss", 1.1},
                                                       {"train_accuracy", 0.58},
                                                       {"val_loss", 1.05},
                                                       {"val_accuracy", 0.6},
                                                       {"val_macro_f1", 0.55},
                                                       {"val_confusion_matrix", cm(30)}}})},
                             {"class_names", json::array({"angry", "disgust", "fear", "happy",
                                                          "sad", "surprise", "neutral"})},
                             {"pending_evals", json::array({{{"split", "val"},
                                                             {"epoch", 4},
                                                             {"reported_ranks", json::array({0})},
                                                             {"missing_ranks", json::array({1})},
                                                             {"overdue", false}}})},
                             {"checkpoints", json::array({{{"file", "epoch-0002.pt"},
                                                           {"epoch", 2},
                                                           {"step", 80},
                                                           {"bytes", 4800000},
                                                           {"sha256", std::string(64, 'a')},
                                                           {"time", "2026-12-01T10:10:00Z"},
                                                           {"metrics", {{"val_accuracy", 0.5}}}},
                                                          {{"file", "epoch-0003.pt"},
                                                           {"epoch", 3},
                                                           {"step", 120},
                                                           {"bytes", 4800000},
                                                           {"sha256", std::string(64, 'b')},
                                                           {"time", "2026-12-01T10:15:00Z"},
                                                           {"metrics", {{"val_accuracy", 0.6}}}}})},
                             {"latest", "epoch-0003.pt"},
                             {"best", "epoch-0003.pt"}},
                            // Optional keys absent: only what is there may be exported.
                            {{"run", kOddRunName}, {"world_size", 1}, {"state", "aborted"}}})}};
}

struct Reply {
  unsigned status = 0;
  std::string content_type;
  std::string body;
  std::optional<std::size_t> content_length;
  std::string allow;
  std::string cache_control;
  bool keep_alive = false;
};

// One request on an open stream; `head` tells the parser the reply carries no body.
Reply exchange(beast::tcp_stream& stream, http::verb method, const std::string& target,
               std::string body = {}, const std::string& bearer = {}) {
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
  if (!body.empty()) {
    req.body() = std::move(body);
    req.set(http::field::content_type, "application/json");
  }
  req.prepare_payload();
  stream.expires_after(std::chrono::seconds(10));
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(16 * 1024 * 1024);
  if (method == http::verb::head) parser.skip(true);
  http::read(stream, buffer, parser);
  const auto& res = parser.get();
  Reply reply;
  reply.status = res.result_int();
  reply.content_type = std::string(res[http::field::content_type]);
  reply.body = res.body();
  reply.allow = std::string(res[http::field::allow]);
  reply.cache_control = std::string(res[http::field::cache_control]);
  reply.keep_alive = res.keep_alive();
  if (res.has_content_length()) {
    reply.content_length = std::stoul(std::string(res[http::field::content_length]));
  }
  return reply;
}

class Client {
 public:
  explicit Client(unsigned short port) : stream_(io_) {
    stream_.expires_after(std::chrono::seconds(10));
    stream_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  Reply send(http::verb method, const std::string& target, std::string body = {}) {
    return exchange(stream_, method, target, std::move(body));
  }
  beast::tcp_stream& stream() { return stream_; }

 private:
  asio::io_context io_;
  beast::tcp_stream stream_;
};

Reply fetch(unsigned short port, http::verb method, const std::string& target,
            std::string body = {}) {
  Client client(port);
  return client.send(method, target, std::move(body));
}

// The server on its own io_context thread, as the coordinator runs it.
class ServerThread {
 public:
  explicit ServerThread(fer::coord::StatusSource source, std::string token = "")
      : guard_(io_.get_executor()) {
    server_ = std::make_unique<HttpStatusServer>(
        io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), std::move(source),
        std::move(token));
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ServerThread() {
    stop();
    guard_.reset();
    thread_.join();
    server_.reset();  // io_context no longer running: safe from this thread.
  }
  unsigned short port() const { return server_->port(); }
  // stop() belongs on the io_context's thread; wait until it has run there.
  void stop() {
    if (stopped_) return;
    stopped_ = true;
    std::promise<void> done;
    asio::post(io_, [&] {
      server_->stop();
      done.set_value();
    });
    done.get_future().wait();
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::unique_ptr<HttpStatusServer> server_;
  std::thread thread_;
  bool stopped_ = false;
};

class HttpStatusTest : public ::testing::Test {
 protected:
  HttpStatusTest()
      : server_([this] {
          ++calls_;
          return document_;
        }) {}

  const json document_ = make_status();
  std::atomic<int> calls_{0};
  ServerThread server_;
};

bool contains_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(HttpStatusServer, WithATokenEveryPageNeedsIt) {
  ServerThread server([] { return make_status(); }, "status-token-0123456789");
  for (const char* page : {"/", "/status", "/metrics"}) {
    EXPECT_EQ(fetch(server.port(), http::verb::get, page).status, 401u) << page;
    Client wrong(server.port());
    EXPECT_EQ(exchange(wrong.stream(), http::verb::get, page, {}, "status-token-012345678").status,
              401u)
        << page;
    Client right(server.port());
    EXPECT_EQ(exchange(right.stream(), http::verb::get, page, {}, "status-token-0123456789").status,
              200u)
        << page;
    EXPECT_EQ(
        fetch(server.port(), http::verb::get, std::string(page) + "?token=status-token-0123456789")
            .status,
        200u)
        << page;
  }
}

TEST_F(HttpStatusTest, StatusReturnsTheDocumentAsJson) {
  const Reply reply = fetch(server_.port(), http::verb::get, "/status");
  EXPECT_EQ(reply.status, 200u);
  EXPECT_EQ(reply.content_type, "application/json");
  EXPECT_EQ(reply.cache_control, "no-store");
  EXPECT_EQ(json::parse(reply.body), document_);
  EXPECT_EQ(calls_.load(), 1);
  // A query string does not change the page.
  EXPECT_EQ(json::parse(fetch(server_.port(), http::verb::get, "/status?x=1").body), document_);
}

TEST_F(HttpStatusTest, MetricsHaveTheFiguresInPrometheusFormat) {
  const Reply reply = fetch(server_.port(), http::verb::get, "/metrics");
  ASSERT_EQ(reply.status, 200u);
  EXPECT_EQ(reply.content_type.rfind("text/plain; version=0.0.4", 0), 0u) << reply.content_type;
  const std::string& m = reply.body;
  for (const char* line : {
           "# TYPE fer_coordinator_uptime_seconds gauge",
           "fer_coordinator_uptime_seconds 12.5",
           "fer_coordinator_connections 3",
           "# TYPE fer_coordinator_frames_received_total counter",
           "fer_coordinator_frames_received_total 1234",
           "fer_coordinator_frames_refused_total 2",
           "fer_coordinator_reports_received_total 40",
           "fer_coordinator_bytes_ingested_total 123456789",
           "fer_run_world_size{run=\"r1\"} 2",
           "fer_run_epoch{run=\"r1\"} 3",
           "fer_run_state{run=\"r1\",state=\"running\"} 1",
           "fer_run_state{run=\"r1\",state=\"aborted\"} 0",
           // From the last metrics line (epoch 3), not the first.
           "fer_run_val_accuracy{run=\"r1\"} 0.6",
           "fer_run_val_loss{run=\"r1\"} 1.05",
           "fer_run_train_loss{run=\"r1\"} 1.1",
           "fer_run_checkpoints{run=\"r1\"} 2",
           "fer_run_pending_evals{run=\"r1\"} 1",
           "fer_rank_connected{run=\"r1\",rank=\"0\"} 1",
           "fer_rank_connected{run=\"r1\",rank=\"1\"} 0",
           "fer_rank_heartbeat_age_seconds{run=\"r1\",rank=\"1\"} 42.25",
           "fer_rank_step{run=\"r1\",rank=\"0\"} 120",
           "fer_rank_step{run=\"r1\",rank=\"1\"} 118",
       }) {
    EXPECT_TRUE(contains_line(m, line)) << "missing line: " << line << "\n" << m;
  }
  // HELP and TYPE once per metric name, before its samples.
  for (const char* name : {"fer_run_state", "fer_rank_step", "fer_run_val_accuracy"}) {
    const std::string help = std::string("# HELP ") + name + " ";
    const std::string type = std::string("# TYPE ") + name + " gauge";
    const auto first = m.find(help);
    ASSERT_NE(first, std::string::npos) << name;
    EXPECT_EQ(m.find(help, first + 1), std::string::npos) << name;
    EXPECT_LT(m.find(type), m.find(std::string("\n") + name + "{")) << name;
  }
  // The run name with a quote, a backslash and a newline, escaped as the format says.
  EXPECT_TRUE(
      contains_line(m, "fer_run_world_size{run=\"odd \\\"run\\\" \\\\ name\\nline two\"} 1"))
      << m;
  EXPECT_TRUE(contains_line(
      m, "fer_run_state{run=\"odd \\\"run\\\" \\\\ name\\nline two\",state=\"aborted\"} 1"))
      << m;
  // That run has no metrics, ranks or checkpoints: no samples for them, and no raw newline.
  EXPECT_EQ(m.find("fer_run_epoch{run=\"odd"), std::string::npos);
  EXPECT_EQ(m.find("fer_run_val_accuracy{run=\"odd"), std::string::npos);
  EXPECT_EQ(m.find("name\nline"), std::string::npos);
}

TEST(PrometheusText, ToleratesAbsentAndOddValues) {
  EXPECT_EQ(fer::coord::prometheus_text(json::object()), "");
  EXPECT_EQ(fer::coord::prometheus_text(json{{"runs", "not a list"}}), "");
  const json status = {
      {"server", {{"uptime_seconds", "soon"}, {"connections", 0}}},
      {"runs",
       json::array({{{"run", "a"},
                     {"metrics", json::array({{{"epoch", 1}, {"val_accuracy", 0.25}},
                                              {{"epoch", 2}, {"train_loss", 0.9}},
                                              {{"epoch", 3}, {"val_accuracy", nullptr}}})},
                     {"ranks", json::array({{{"rank", 0}, {"heartbeat_age_seconds", nullptr}},
                                            {{"host", "no rank number"}}})}},
                    {{"world_size", 4}}})}};
  const std::string m = fer::coord::prometheus_text(status);
  EXPECT_TRUE(contains_line(m, "fer_coordinator_connections 0")) << m;
  EXPECT_EQ(m.find("fer_coordinator_uptime_seconds"), std::string::npos) << m;
  EXPECT_TRUE(contains_line(m, "fer_run_val_accuracy{run=\"a\"} 0.25")) << m;
  EXPECT_TRUE(contains_line(m, "fer_run_train_loss{run=\"a\"} 0.9")) << m;
  EXPECT_EQ(m.find("fer_rank_heartbeat_age_seconds"), std::string::npos) << m;
  EXPECT_EQ(m.find("fer_run_world_size"), std::string::npos) << "a run without a name: " << m;
}

TEST_F(HttpStatusTest, DashboardIsSelfContainedHtml) {
  const Reply reply = fetch(server_.port(), http::verb::get, "/");
  EXPECT_EQ(reply.status, 200u);
  EXPECT_EQ(reply.content_type.rfind("text/html", 0), 0u);
  EXPECT_EQ(reply.body, fer::coord::dashboard_html());
  for (const char* hook : {"id=\"confusion\"", "id=\"summary\"", "id=\"error\"", "<canvas"}) {
    EXPECT_NE(reply.body.find(hook), std::string::npos) << hook;
  }
  // Nothing loaded from elsewhere: the coordinator's node may have no Internet access.
  for (const char* external : {"http://", "https://", "src=", "<link"}) {
    EXPECT_EQ(reply.body.find(external), std::string::npos) << external;
  }
  EXPECT_EQ(calls_.load(), 0) << "the page itself does not need the status";
}

TEST_F(HttpStatusTest, UnknownPathIs404AndOtherMethodsAre405) {
  const Reply missing = fetch(server_.port(), http::verb::get, "/nope");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_NE(missing.body.find("/nope"), std::string::npos);
  for (const char* target : {"/status", "/metrics", "/"}) {
    const Reply post = fetch(server_.port(), http::verb::post, target, "{}");
    EXPECT_EQ(post.status, 405u) << target;
    EXPECT_EQ(post.allow, "GET, HEAD") << target;
  }
  EXPECT_EQ(fetch(server_.port(), http::verb::delete_, "/status").status, 405u);
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(HttpStatusTest, HeadHasHeadersButNoBody) {
  Client client(server_.port());
  const Reply head = client.send(http::verb::head, "/status");
  EXPECT_EQ(head.status, 200u);
  EXPECT_EQ(head.content_type, "application/json");
  EXPECT_TRUE(head.body.empty());
  ASSERT_TRUE(head.content_length.has_value());
  EXPECT_EQ(*head.content_length, document_.dump().size());
  // Had the server sent a body after all, this next reply on the connection would be
  // read from its bytes and be garbage.
  const Reply get = client.send(http::verb::get, "/status");
  EXPECT_EQ(get.status, 200u);
  EXPECT_EQ(json::parse(get.body), document_);
  EXPECT_EQ(client.send(http::verb::head, "/").status, 200u);
  EXPECT_EQ(client.send(http::verb::get, "/metrics").status, 200u);
}

TEST_F(HttpStatusTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  Client client(server_.port());
  for (int i = 0; i < 5; ++i) {
    const Reply reply = client.send(http::verb::get, i % 2 ? "/metrics" : "/status");
    EXPECT_EQ(reply.status, 200u);
    EXPECT_TRUE(reply.keep_alive);
  }
  EXPECT_EQ(calls_.load(), 5);
}

TEST_F(HttpStatusTest, LargeRequestBodyIsRefused) {
  Client client(server_.port());
  const Reply reply = client.send(http::verb::get, "/status", std::string(64 * 1024, 'x'));
  EXPECT_EQ(reply.status, 413u);
  EXPECT_FALSE(reply.keep_alive);
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(HttpStatusTest, GarbageIsABadRequest) {
  Client client(server_.port());
  asio::write(client.stream().socket(), asio::buffer(std::string("HELLO\r\n\r\n")));
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(client.stream(), buffer, res);
  EXPECT_EQ(res.result_int(), 400u);
}

TEST_F(HttpStatusTest, IdleConnectionsDoNotBlockOthers) {
  // One that never sends, one that stops halfway through its headers.
  Client idle(server_.port());
  Client half(server_.port());
  asio::write(half.stream().socket(), asio::buffer(std::string("GET /status HTTP/1.1\r\nHo")));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(fetch(server_.port(), http::verb::get, "/status").status, 200u);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(HttpStatusTest, StopClosesOpenConnectionsAndRefusesNewOnes) {
  Client open(server_.port());
  EXPECT_EQ(open.send(http::verb::get, "/status").status, 200u);
  const unsigned short port = server_.port();
  server_.stop();
  // The kept-alive connection is closed by the server: reading yields end of stream.
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  beast::error_code ec;
  open.stream().expires_after(std::chrono::seconds(5));
  http::read(open.stream(), buffer, res, ec);
  EXPECT_TRUE(ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
              ec == asio::error::eof)
      << ec.message();
  EXPECT_THROW(fetch(port, http::verb::get, "/status"), boost::system::system_error);
}

TEST(HttpStatusServer, ThrowingStatusSourceGives500WithTheMessage) {
  ServerThread server([]() -> json { throw std::runtime_error("run registry is locked"); });
  for (const char* target : {"/status", "/metrics"}) {
    const Reply reply = fetch(server.port(), http::verb::get, target);
    EXPECT_EQ(reply.status, 500u) << target;
    EXPECT_NE(reply.body.find("run registry is locked"), std::string::npos) << reply.body;
  }
  // The dashboard does not depend on the status source.
  EXPECT_EQ(fetch(server.port(), http::verb::get, "/").status, 200u);
}

TEST(HttpStatusServer, BindErrorNamesTheAddress) {
  ServerThread first([] { return json::object(); });
  asio::io_context io;
  const auto endpoint = tcp::endpoint(asio::ip::make_address("127.0.0.1"), first.port());
  try {
    HttpStatusServer second(io, endpoint, [] { return json::object(); });
    FAIL() << "a second server bound the same port";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("127.0.0.1:" + std::to_string(first.port())), std::string::npos) << what;
    EXPECT_NE(what.find("in use"), std::string::npos) << what;
  }
}

TEST(HttpStatusServer, PortZeroPicksAFreePort) {
  ServerThread a([] { return json::object(); });
  ServerThread b([] { return json::object(); });
  EXPECT_NE(a.port(), 0);
  EXPECT_NE(b.port(), 0);
  EXPECT_NE(a.port(), b.port());
  EXPECT_EQ(json::parse(fetch(b.port(), http::verb::get, "/status").body), json::object());
}

}  // namespace

// The dashboard is kept as page/dashboard.{html,css,js} and served as one document.
TEST(Dashboard, IsOneSelfContainedDocumentMadeFromItsFiles) {
  const std::string& page = fer::coord::dashboard_html();
  EXPECT_EQ(page.find("<script src="), std::string::npos);
  EXPECT_EQ(page.find("<link rel=\"stylesheet\""), std::string::npos);
  EXPECT_NE(page.find("<style>\n"), std::string::npos);
  EXPECT_NE(page.find("id=\"confusion\""), std::string::npos);  // from dashboard.html
  EXPECT_NE(page.find("fetch("), std::string::npos);            // from dashboard.js
  EXPECT_EQ(page.rfind("</html>\n"), page.size() - std::string("</html>\n").size());
}
