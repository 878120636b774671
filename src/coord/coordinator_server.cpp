#include "coord/coordinator_server.hpp"

#include <pthread.h>
#include <sys/stat.h>

#include <boost/asio.hpp>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <mutex>

#include "common/error.hpp"
#include "common/sha256.hpp"
#include "common/text.hpp"
#include "coord/disk_worker.hpp"
#include "coord/http_status.hpp"
#include "http/access.hpp"

namespace fer::coord {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
namespace fs = std::filesystem;
using nlohmann::json;

std::string load_token(const std::string& file) {
  return fer::http::load_token(file, "FER_COORD_TOKEN");
}

using fer::http::endpoint_for;

namespace {
class RankConnection;
constexpr double kAcceptBackoffStart = 0.05, kAcceptBackoffMax = 1.0;
constexpr double kAcceptReportSeconds = 5;
}  // namespace

struct CoordinatorServer::Impl : std::enable_shared_from_this<CoordinatorServer::Impl> {
  CoordinatorOptions options;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::unique_ptr<HttpStatusServer> http;
  asio::steady_timer tick{io};
  // accept() failing (EMFILE at the fd limit) is retried after a growing pause and
  // reported at most every few seconds, instead of spinning and flooding the log.
  asio::steady_timer accept_retry{io};
  double accept_backoff_seconds = kAcceptBackoffStart;
  std::uint64_t accept_failures = 0;
  SteadyClock::time_point last_accept_report{};
  std::map<std::string, std::unique_ptr<Run>> runs;
  std::map<int, std::weak_ptr<RankConnection>> sessions;
  int next_connection = 1;
  SteadyClock::time_point started = SteadyClock::now();
  std::uint64_t frames_received = 0, frames_refused = 0, reports_received = 0, bytes_ingested = 0;
  bool stopped = false;
  // Group commit: acknowledgements of journaled reports, sent after one fdatasync per
  // run for everything that arrived meanwhile (posted once, runs after the ready reads).
  struct AwaitingSync {
    std::weak_ptr<RankConnection> connection;
    Run* run;
    Ack ack;
  };
  std::vector<AwaitingSync> awaiting_sync;
  bool sync_posted = false;
  DiskWorker disk;  // last member: joined first, before the io_context goes away

  // Lines carry what clients sent (run ids, reasons): escaped, one line each.
  void log(const std::string& line) const {
    if (!options.quiet) std::cout << "fer-coordinator: " << printable(line) << std::endl;
  }
  // Shown even when quiet (embedded in fer-train): something is wrong.
  void warn(const std::string& line) const {
    std::cerr << "fer-coordinator: warning: " << printable(line) << std::endl;
  }
  void accept();
  void schedule_tick();
  void acknowledge_when_durable(const std::shared_ptr<RankConnection>& session, Run& run, Ack ack);
  void sync_journals();
  Run& open_run(const Hello& hello);
  json status() const;
  void restore_runs();
  void shutdown();
};

namespace {

// One connected peer. Reads frames one after another (header, then payload into a
// reused buffer), handles each on the service thread, queues acknowledgements.
class RankConnection : public std::enable_shared_from_this<RankConnection> {
 public:
  RankConnection(CoordinatorServer::Impl& server, tcp::socket socket, int id)
      : server_(server), socket_(std::move(socket)), deadline_(server.io), id_(id) {
    boost::system::error_code ec;
    const auto remote = socket_.remote_endpoint(ec);
    peer_ = ec ? "?" : remote.address().to_string() + ":" + std::to_string(remote.port());
    socket_.set_option(tcp::no_delay(true), ec);
  }
  void start() {
    arm_deadline();
    read_header();
  }
  void close(const std::string& reason) {
    if (closed_) return;
    closed_ = true;
    if (!reason.empty())
      server_.log(
          "connection " + std::to_string(id_) + " from " + peer_ +
          (run_ ? " (run " + run_->id() + " rank " + std::to_string(rank_) + ")" : std::string()) +
          " closed: " + reason);
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    deadline_.cancel();
    upload_.reset();  // a partial upload is discarded; the client sends it again
    if (run_) run_->disconnected(rank_, id_);
    server_.sessions.erase(id_);
  }

 private:
  void arm_deadline() {
    // Until its Hello is accepted a connection is nobody's: it gets a short time, so
    // idle strangers cannot hold file descriptors (the fd limit) for long.
    const double seconds = hello_done_ ? server_.options.idle_timeout_seconds
                                       : std::min(server_.options.idle_timeout_seconds,
                                                  server_.options.hello_timeout_seconds);
    deadline_.expires_after(std::chrono::milliseconds(static_cast<long>(seconds * 1000)));
    deadline_.async_wait([self = shared_from_this(), seconds](boost::system::error_code ec) {
      if (!ec)
        self->close(std::string(self->hello_done_ ? "silent" : "no Hello") + " for " +
                    std::to_string(static_cast<int>(seconds)) + " s");
    });
  }
  void read_header() {
    asio::async_read(socket_, asio::buffer(header_),
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                       if (ec) return self->close(ec == asio::error::eof ? "" : ec.message());
                       self->on_header();
                     });
  }
  void on_header() {
    FrameHeader h;
    try {
      h = decode_header(header_.data());
    } catch (const ProtocolError& e) {
      // A peer of another protocol version is told so in this side's version (its
      // decoder then names both versions) instead of finding the door shut.
      if (const auto version = foreign_protocol_version(header_.data())) {
        ++server_.frames_refused;
        const std::string why = "protocol version " + std::to_string(*version) +
                                ", this coordinator speaks " + std::to_string(kProtocolVersion);
        server_.warn("refusing connection " + std::to_string(id_) + " from " + peer_ + ": " + why);
        send({0, AckStatus::kRejected, why, ""});
        close_after_sending("");
        return;
      }
      return refuse(e.what());
    }
    if (!hello_done_ && h.type != MessageType::kHello)
      return refuse(std::string(message_type_name(h.type)) + " frame before an accepted Hello");
    // A big buffer is kept once grown: chunk after chunk reuses it.
    if (payload_.size() < h.payload_length) payload_.resize(h.payload_length);
    asio::async_read(socket_, asio::buffer(payload_.data(), h.payload_length),
                     [self = shared_from_this(), h](boost::system::error_code ec, std::size_t) {
                       if (ec)
                         return self->close("truncated " + std::string(message_type_name(h.type)) +
                                            " frame: " + ec.message());
                       self->on_payload(h);
                     });
  }
  void refuse(const std::string& why) {
    ++server_.frames_refused;
    server_.warn("refusing connection " + std::to_string(id_) + " from " + peer_ + ": " + why);
    close("");
  }
  void on_payload(const FrameHeader& h) {
    ++server_.frames_received;
    arm_deadline();
    Message message;
    try {
      message = decode_payload(h.type, std::string_view(payload_.data(), h.payload_length));
    } catch (const ProtocolError& e) {
      return refuse(e.what());
    }
    std::visit([this](auto& m) { handle(m); }, message);
    if (!closed_) read_header();
  }

  template <class F>
  void answer(std::uint64_t seq, F&& body) {
    send(attempt(seq, std::forward<F>(body)));
  }
  // Runs `body` for the acknowledgement of `seq`; a refusal or failure becomes the Ack.
  template <class F>
  Ack attempt(std::uint64_t seq, F&& body) {
    Ack ack;
    try {
      ack = body();
    } catch (const InputError& e) {
      ack = {seq, AckStatus::kRejected, e.what(), ""};
    } catch (const CorruptDataError& e) {
      ack = {seq, AckStatus::kRejected, e.what(), ""};
    } catch (const std::exception& e) {
      server_.log(std::string("error: ") + e.what());
      ack = {seq, AckStatus::kError, e.what(), ""};
    }
    if (ack.status != AckStatus::kOk)
      server_.warn((run_ ? run_->id() + " rank " + std::to_string(rank_) + ": " : std::string()) +
                   (ack.status == AckStatus::kRejected ? "rejected: " : "failed: ") + ack.message);
    return ack;
  }

 public:
  // Queues an acknowledgement (written in order, one write at a time).
  void send(const Ack& ack) {
    if (closed_) return;
    const bool idle = outbox_.empty();
    outbox_.push_back(encode(ack));
    if (idle) write_next();
  }

 private:
  void write_next() {
    asio::async_write(socket_, asio::buffer(outbox_.front()),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        if (ec) return self->close(ec.message());
                        self->outbox_.pop_front();
                        if (!self->outbox_.empty())
                          self->write_next();
                        else if (self->close_after_write_)
                          self->close(self->close_reason_);
                      });
  }
  void close_after_sending(const std::string& reason) {
    close_after_write_ = true;
    close_reason_ = reason;
  }

  void handle(Hello& hello) {
    if (!server_.options.token.empty() && !secrets_match(server_.options.token, hello.token)) {
      ++server_.frames_refused;
      send({hello.seq, AckStatus::kRejected, "wrong or missing token", ""});
      close_after_sending("Hello with a wrong or missing token");
      return;
    }
    answer(hello.seq, [&] {
      if (!valid_run_id(hello.run))
        throw InputError("run id '" + hello.run.substr(0, 64) +
                         "' is not a valid name (letters, digits, '.', '_', '-'; 1..128; not "
                         "starting with '.')");
      if (hello_done_ && hello.run != run_->id())
        throw InputError("this connection already belongs to run " + run_->id());
      Run& run = server_.open_run(hello);
      Ack ack = run.hello(hello, id_);
      if (ack.status == AckStatus::kOk) {
        if (run_ && rank_ != static_cast<int>(hello.rank)) run_->disconnected(rank_, id_);
        run_ = &run;
        rank_ = static_cast<int>(hello.rank);
        hello_done_ = true;
      }
      return ack;
    });
    if (!hello_done_) return close_after_sending("Hello refused");
    arm_deadline();  // from now on the idle timeout, not the Hello's
  }
  void handle(Heartbeat& beat) {
    if (static_cast<int>(beat.rank) == rank_) run_->heartbeat(beat);
  }
  void handle(EvalReport& report) {
    ++server_.reports_received;
    Ack ack = attempt(report.seq, [&] { return run_->report(report); });
    server_.acknowledge_when_durable(shared_from_this(), *run_, std::move(ack));
  }
  void handle(CheckpointBegin& begin) {
    // Acknowledged after End; here only a refusal is answered (its chunks are dropped).
    try {
      if (upload_) throw InputError("an upload is already in progress on this connection");
      upload_ = run_->begin_upload(begin);
    } catch (const std::exception&) {
      answer(begin.seq, []() -> Ack { throw; });
    }
  }
  void handle(CheckpointChunk& chunk) {
    if (!upload_ || upload_->begin().upload_id != chunk.upload_id) return;  // refused at Begin
    server_.bytes_ingested += chunk.data.size();
    try {
      upload_->write(chunk);
    } catch (const std::exception& e) {
      const std::uint64_t seq = upload_->begin().seq;
      upload_.reset();
      answer(seq, [&]() -> Ack { throw; });
    }
  }
  void handle(CheckpointEnd& end) {
    if (!upload_ || upload_->begin().upload_id != end.upload_id) return;
    std::shared_ptr<CheckpointUpload> upload = std::move(upload_);
    const std::uint64_t seq = upload->begin().seq;
    try {
      upload->verify();
    } catch (const std::exception&) {
      const Ack refused = attempt(seq, []() -> Ack { throw; });
      upload.reset();  // a refused upload's file is gone before the answer leaves
      return send(refused);
    }
    // The fsync of the whole file happens on the disk thread; the commit (rename,
    // manifest, pointers) back here, where the run's state lives.
    server_.disk.run([self = shared_from_this(), upload, run = run_, seq] {
      std::exception_ptr failure;
      try {
        upload->flush_to_disk();
      } catch (...) {
        failure = std::current_exception();
      }
      asio::post(self->server_.io, [self, upload, run, seq, failure]() mutable {
        const Ack ack = self->attempt(seq, [&] {
          if (failure) std::rethrow_exception(failure);
          return run->finish_upload(*upload);
        });
        upload.reset();
        self->send(ack);
      });
    });
  }
  void handle(Query& query) {
    answer(query.seq, [&] { return run_->query(query); });
  }
  void handle(Abort& abort) {
    answer(abort.seq, [&] { return run_->abort(abort); });
  }
  void handle(Ack&) { refuse("an Ack from a client"); }

  CoordinatorServer::Impl& server_;
  tcp::socket socket_;
  asio::steady_timer deadline_;
  int id_;
  std::string peer_;
  std::array<unsigned char, kHeaderBytes> header_{};
  std::vector<char> payload_;
  std::deque<std::string> outbox_;
  bool hello_done_ = false, closed_ = false, close_after_write_ = false;
  std::string close_reason_;
  Run* run_ = nullptr;
  int rank_ = -1;
  std::unique_ptr<CheckpointUpload> upload_;
};

}  // namespace

void CoordinatorServer::Impl::accept() {
  // `this`, not a shared pointer: handlers live in `io`, a member, and must not keep
  // the service (and its runs' locks) alive after the server object is gone.
  acceptor.async_accept([self = this](boost::system::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || self->stopped) return;
      ++self->accept_failures;
      const auto now = SteadyClock::now();
      if (now - self->last_accept_report > std::chrono::duration<double>(kAcceptReportSeconds)) {
        self->warn("accept failed: " + ec.message() + " (" + std::to_string(self->accept_failures) +
                   " times since the last report; " + std::to_string(self->sessions.size()) +
                   " connections open; connections that say no Hello are closed after " +
                   std::to_string(static_cast<int>(self->options.hello_timeout_seconds)) +
                   " s); retrying with backoff");
        self->last_accept_report = now;
        self->accept_failures = 0;
      }
      self->accept_retry.expires_after(
          std::chrono::milliseconds(static_cast<long>(self->accept_backoff_seconds * 1000)));
      self->accept_backoff_seconds = std::min(kAcceptBackoffMax, self->accept_backoff_seconds * 2);
      self->accept_retry.async_wait([self](boost::system::error_code wait_error) {
        if (!wait_error && !self->stopped) self->accept();
      });
      return;
    }
    self->accept_backoff_seconds = kAcceptBackoffStart;
    const int id = self->next_connection++;
    auto session = std::make_shared<RankConnection>(*self, std::move(socket), id);
    self->sessions[id] = session;
    session->start();
    self->accept();
  });
}

void CoordinatorServer::Impl::acknowledge_when_durable(
    const std::shared_ptr<RankConnection>& session, Run& run, Ack ack) {
  if (!run.journal_needs_sync()) return session->send(ack);
  awaiting_sync.push_back({session, &run, std::move(ack)});
  if (sync_posted) return;
  sync_posted = true;
  asio::post(io, [self = this] { self->sync_journals(); });
}

void CoordinatorServer::Impl::sync_journals() {
  sync_posted = false;
  for (auto& [id, run] : runs) {
    try {
      run->sync_journal();
    } catch (const std::exception& e) {
      // Not durable: that run's waiting reports are answered with the error (the
      // ranks log it) rather than acknowledged.
      warn(e.what());
      for (AwaitingSync& waiting : awaiting_sync)
        if (waiting.run == run.get() && waiting.ack.status == AckStatus::kOk)
          waiting.ack = {waiting.ack.seq, AckStatus::kError, e.what(), ""};
    }
  }
  auto ready = std::move(awaiting_sync);
  awaiting_sync.clear();
  for (AwaitingSync& waiting : ready)
    if (auto connection = waiting.connection.lock()) connection->send(waiting.ack);
}

void CoordinatorServer::Impl::schedule_tick() {
  tick.expires_after(std::chrono::seconds(1));
  tick.async_wait([self = this](boost::system::error_code ec) {
    if (ec || self->stopped) return;
    for (auto& [id, run] : self->runs) run->check_deadlines();
    self->schedule_tick();
  });
}

Run& CoordinatorServer::Impl::open_run(const Hello& hello) {
  auto it = runs.find(hello.run);
  if (it != runs.end()) return *it->second;  // Run::hello authenticates
  Run::authenticate_on_disk(options.checkpoints_dir / hello.run, hello);
  auto run = std::make_unique<Run>(options.checkpoints_dir / hello.run, hello.run,
                                   static_cast<int>(hello.world_size), options.run);
  log("run " + hello.run + ": " + (options.checkpoints_dir / hello.run).string());
  return *runs.emplace(hello.run, std::move(run)).first->second;
}

void CoordinatorServer::Impl::restore_runs() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options.checkpoints_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!valid_run_id(name)) continue;
    try {
      const auto saved = runs::read_run_status(entry.path(), /*as_seen_by_reader=*/false);
      if (!saved || saved->state != runs::RunState::kRunning) continue;
      runs.emplace(name, std::make_unique<Run>(entry.path(), name, saved->world_size, options.run));
      log("restored run " + name + " (" + std::to_string(runs.at(name)->pending_reports()) +
          " reports waiting for other ranks)");
    } catch (const std::exception& e) {
      log("not restoring " + entry.path().string() + ": " + e.what());
    }
  }
}

json CoordinatorServer::Impl::status() const {
  json run_list = json::array();
  for (const auto& [id, run] : runs) run_list.push_back(run->status());
  boost::system::error_code ec;
  const auto local = acceptor.local_endpoint(ec);
  return {{"server",
           {{"version", FER_VERSION},
            {"uptime_seconds", std::chrono::duration<double>(SteadyClock::now() - started).count()},
            {"listen", ec ? "" : local.address().to_string() + ":" + std::to_string(local.port())},
            {"connections", sessions.size()},
            {"frames_received", frames_received},
            {"frames_refused", frames_refused},
            {"reports_received", reports_received},
            {"bytes_ingested", bytes_ingested}}},
          {"runs", run_list}};
}

void CoordinatorServer::Impl::shutdown() {
  if (stopped) return;
  stopped = true;
  boost::system::error_code ec;
  acceptor.close(ec);
  tick.cancel();
  accept_retry.cancel();
  if (http) http->stop();
  auto open = sessions;
  for (auto& [id, weak] : open)
    if (auto session = weak.lock()) session->close("");
  io.stop();
}

CoordinatorServer::CoordinatorServer(CoordinatorOptions options) : impl_(std::make_shared<Impl>()) {
  Impl& s = *impl_;
  s.options = std::move(options);
  if (s.options.run.class_names.empty())
    s.options.run.class_names = {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"};
  s.options.run.quiet = s.options.run.quiet || s.options.quiet;
  for (const std::string* address : {&s.options.listen_address, &s.options.http_address}) {
    fer::http::require_token_off_loopback(
        *address, s.options.token, "--token-file FILE or the FER_COORD_TOKEN environment variable");
  }
  std::error_code fs_ec;
  fs::create_directories(s.options.checkpoints_dir, fs_ec);
  if (fs_ec)
    throw InputError(s.options.checkpoints_dir.string() + ": cannot create: " + fs_ec.message());
  const tcp::endpoint endpoint = endpoint_for(s.options.listen_address, s.options.port, "listen");
  boost::system::error_code ec;
  s.acceptor.open(endpoint.protocol(), ec);
  if (!ec) s.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(endpoint, ec);
  if (!ec) s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw InputError("cannot listen on " + s.options.listen_address + ":" +
                     std::to_string(s.options.port) + ": " + ec.message());
  if (s.options.http_port >= 0) {
    std::weak_ptr<Impl> weak = impl_;
    try {
      s.http = std::make_unique<HttpStatusServer>(
          s.io,
          endpoint_for(s.options.http_address, static_cast<std::uint16_t>(s.options.http_port),
                       "http"),
          [weak] {
            auto self = weak.lock();
            return self ? self->status() : json::object();
          },
          // Off loopback the page shows run names, hosts and metrics: the token guards it.
          fer::http::is_loopback_address(s.options.http_address) ? std::string() : s.options.token);
    } catch (const std::runtime_error& e) {
      throw InputError(std::string("status page: ") + e.what());
    }
  }
  if (s.options.restore_running_runs) s.restore_runs();
  s.accept();
  s.schedule_tick();
}

CoordinatorServer::~CoordinatorServer() {
  stop();
}

std::uint16_t CoordinatorServer::port() const {
  boost::system::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

int CoordinatorServer::http_port() const {
  return impl_->http ? impl_->http->port() : -1;
}

void CoordinatorServer::run() {
  impl_->io.run();
}

void CoordinatorServer::run_until_signal() {
  asio::signal_set signals(impl_->io, SIGINT, SIGTERM);
  signals.async_wait([impl = impl_.get()](boost::system::error_code ec, int signal) {
    if (ec) return;
    impl->log(std::string("stopping on ") + (signal == SIGINT ? "SIGINT" : "SIGTERM"));
    impl->shutdown();
  });
  impl_->io.run();
}

void CoordinatorServer::start_in_thread() {
  thread_ = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), "fer-coord-srv");  // named in top -H, gdb
    run();
  });
}

void CoordinatorServer::stop() {
  if (thread_.joinable()) {
    asio::post(impl_->io, [impl = impl_.get()] { impl->shutdown(); });
    thread_.join();
  } else if (!impl_->stopped) {
    impl_->shutdown();  // run() (if any) returns; called from its thread or after it
  }
}

json CoordinatorServer::status() {
  if (!thread_.joinable()) return impl_->status();
  auto result = std::make_shared<std::promise<json>>();
  auto future = result->get_future();
  asio::post(impl_->io, [impl = impl_.get(), result] { result->set_value(impl->status()); });
  if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready)
    throw std::runtime_error("the coordinator did not answer a status request within 10 s");
  return future.get();
}

}  // namespace fer::coord
