#include "coord/coordinator_client.hpp"

#include <pthread.h>

#include <boost/asio.hpp>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "common/sha256.hpp"

namespace fer::coord {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {
std::chrono::milliseconds millis(double seconds) {
  return std::chrono::milliseconds(static_cast<long>(seconds * 1000));
}
}  // namespace

// Everything below runs on the client's own thread, except where `mutex` is taken
// (the counters and mailboxes that the training thread reads).
// Handlers capture `this`: the io_context is a member, so they never outlive it, and
// no handler keeps the state alive after the client is gone (no reference cycle).
struct CoordinatorClient::Impl {
  struct Outgoing {
    std::uint64_t seq = 0;
    std::string what;                            // for messages about a refusal
    std::string frame;                           // a small message, encoded
    std::shared_ptr<std::string> bytes;          // an upload: the checkpoint
    CheckpointBegin begin;                       // an upload: its header (sha256 filled in lazily)
    std::shared_ptr<std::promise<json>> answer;  // a query
    bool watch = false;                          // the stall watch's own query
  };
  enum class State { kDisconnected, kConnecting, kHelloSent, kReady, kFailed };

  ClientOptions options;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  tcp::socket socket{io};
  asio::steady_timer retry_timer{io}, tick_timer{io};
  State state = State::kDisconnected;
  bool first_hello_acknowledged = false;
  double backoff = 0.1;
  std::deque<Outgoing> queue;  // not yet acknowledged, in order
  // Send cursor: queue[next] is being sent; for an upload, phase 0 Begin, 1 chunks, 2 End.
  std::size_t next = 0;
  int phase = 0;
  std::uint64_t offset = 0;
  bool writing = false, heartbeat_due = false;
  std::string write_buffer;
  std::array<unsigned char, kHeaderBytes> header{};
  std::string payload;
  Clock::time_point last_progress = Clock::now(), last_heartbeat = Clock::now();
  std::int32_t epoch = 0;
  std::int64_t step = 0;
  std::uint64_t connection_generation = 0;  // handlers of an old connection do nothing
  std::uint64_t next_upload_id = 1;
  std::thread thread_;

  mutable std::mutex mutex;
  std::condition_variable changed;
  std::uint64_t next_seq = 1;
  std::uint64_t queued_total = 0, finished_total = 0;
  std::vector<std::string> problems;
  std::vector<int> lost_checkpoints;
  std::string last_error;
  bool is_connected = false, failed = false;
  Clock::time_point disconnected_since = Clock::now();
  // Stall watch: one "ranks" query in flight at a time.
  bool watch_in_flight = false;
  Clock::time_point watch_sent{}, watch_answered{};
  bool watch_has_answer = false;
  json watched = json::array();
  bool lost_connection = false;  // warned about a lost connection, not yet back

  std::uint64_t take_seq() {
    std::lock_guard<std::mutex> lock(mutex);
    ++queued_total;
    return next_seq++;
  }
  void enqueue(Outgoing out) {
    asio::post(io, [self = this, out = std::move(out)]() mutable {
      self->queue.push_back(std::move(out));
      self->pump();
    });
  }
  void finished(std::size_t count = 1) {
    std::lock_guard<std::mutex> lock(mutex);
    finished_total += count;
    changed.notify_all();
  }
  void problem(const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex);
    problems.push_back(text);
  }
  void set_connected(bool value, const std::string& error = "") {
    std::lock_guard<std::mutex> lock(mutex);
    if (is_connected && !value) disconnected_since = Clock::now();
    is_connected = value;
    if (!error.empty()) last_error = error;
    changed.notify_all();
  }

  void start() {
    connect();
    tick();
  }

  void tick() {
    tick_timer.expires_after(std::chrono::milliseconds(250));
    tick_timer.async_wait([self = this](boost::system::error_code ec) {
      if (ec) return;
      const auto now = Clock::now();
      if (self->state == State::kReady &&
          now - self->last_heartbeat > millis(self->options.heartbeat_seconds)) {
        self->heartbeat_due = true;
        self->pump();
      }
      const bool waiting = self->state == State::kConnecting || self->state == State::kHelloSent ||
                           (self->state == State::kReady && !self->queue.empty());
      if (self->options.watch_ranks_seconds > 0 && self->state == State::kReady &&
          !self->watch_in_flight &&
          now - self->watch_sent > millis(self->options.watch_ranks_seconds))
        self->ask_for_ranks();
      if (waiting && now - self->last_progress > millis(self->options.io_timeout_seconds))
        self->drop("no progress for " +
                   std::to_string(static_cast<int>(self->options.io_timeout_seconds)) + " s");
      self->tick();
    });
  }

  void ask_for_ranks() {
    Outgoing out;
    {
      std::lock_guard<std::mutex> lock(mutex);
      out.seq = next_seq++;  // not counted in queued_total: flush() does not wait for it
      watch_in_flight = true;
      watch_sent = Clock::now();
    }
    out.what = "query ranks";
    out.frame = encode(Query{out.seq, "ranks"});
    out.watch = true;
    queue.push_back(std::move(out));
    pump();
  }

  void connect() {
    if (state == State::kFailed) return;
    state = State::kConnecting;
    last_progress = Clock::now();
    const std::uint64_t generation = ++connection_generation;
    boost::system::error_code resolve_error;
    tcp::resolver resolver(io);
    const auto endpoints =
        resolver.resolve(options.host, std::to_string(options.port), resolve_error);
    if (resolve_error) {
      const std::string why = "cannot resolve " + options.host + ": " + resolve_error.message();
      // A name that never resolved is a typo, not a hiccup: say so now instead of
      // retrying for the whole connect timeout. Later failures are retried.
      if (!first_hello_acknowledged) return fail(why);
      return drop(why);
    }
    asio::async_connect(
        socket, endpoints,
        [self = this, generation](boost::system::error_code ec, const tcp::endpoint&) {
          if (generation != self->connection_generation) return;
          if (ec)
            return self->drop("cannot connect to " + self->options.host + ":" +
                              std::to_string(self->options.port) + ": " + ec.message());
          self->on_connected();
        });
  }

  void on_connected() {
    boost::system::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    Hello hello = options.hello;
    {
      std::lock_guard<std::mutex> lock(mutex);
      hello.seq = next_seq++;
    }
    if (first_hello_acknowledged) hello.resume_epoch = -1;  // only the first one resumes
    state = State::kHelloSent;
    hello_seq = hello.seq;
    next = 0;
    phase = 0;
    offset = 0;
    writing = true;
    write_buffer = encode(hello);
    write_current();
    read_header();
  }
  std::uint64_t hello_seq = 0;

  std::string address() const { return options.host + ":" + std::to_string(options.port); }
  void warn(const std::string& text) {
    if (options.on_warning) options.on_warning(text);
  }

  void drop(const std::string& why) {
    if (state == State::kFailed) return;
    if (state == State::kReady && !lost_connection) {
      lost_connection = true;
      warn("lost the connection to the coordinator at " + address() + " (" + why + "); " +
           std::to_string(queue.size()) + " messages kept in memory, reconnecting with backoff");
    }
    ++connection_generation;
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    writing = false;
    next = 0;
    phase = 0;
    offset = 0;
    state = State::kDisconnected;
    set_connected(false, why);
    retry_timer.expires_after(millis(backoff));
    backoff = std::min(backoff * 2, options.max_backoff_seconds);
    retry_timer.async_wait([self = this](boost::system::error_code ec) {
      if (!ec && self->state == State::kDisconnected) self->connect();
    });
  }

  void fail(const std::string& why) {
    drop(why);
    state = State::kFailed;
    retry_timer.cancel();
    problem(why);
    std::lock_guard<std::mutex> lock(mutex);
    failed = true;
    changed.notify_all();
  }

  // Builds the next frame to send into write_buffer; false when nothing is left.
  bool next_frame() {
    if (heartbeat_due) {
      heartbeat_due = false;
      last_heartbeat = Clock::now();
      write_buffer.clear();
      encode_into(Heartbeat{options.hello.rank, epoch, step}, write_buffer);
      return true;
    }
    if (next >= queue.size()) return false;
    Outgoing& out = queue[next];
    write_buffer.clear();
    if (!out.bytes) {
      write_buffer = out.frame;
      ++next;
      return true;
    }
    if (out.begin.sha256.empty()) {  // hashed here, not on the training thread
      Sha256 hash;
      hash.update(out.bytes->data(), out.bytes->size());
      out.begin.sha256 = hash.hex_digest();
    }
    if (phase == 0) {
      encode_into(out.begin, write_buffer);
      phase = 1;
      offset = 0;
    } else if (phase == 1 && offset < out.bytes->size()) {
      const std::size_t n =
          std::min<std::size_t>(kCheckpointChunkBytes, out.bytes->size() - offset);
      encode_into(CheckpointChunk{out.begin.upload_id, offset,
                                  std::string_view(out.bytes->data() + offset, n)},
                  write_buffer);
      offset += n;
    } else {
      encode_into(CheckpointEnd{out.begin.upload_id}, write_buffer);
      phase = 0;
      ++next;
    }
    return true;
  }

  void pump() {
    if (state != State::kReady || writing) return;
    if (!next_frame()) return;
    writing = true;
    write_current();
  }

  void write_current() {
    const std::uint64_t generation = connection_generation;
    asio::async_write(socket, asio::buffer(write_buffer),
                      [self = this, generation](boost::system::error_code ec, std::size_t) {
                        if (generation != self->connection_generation) return;
                        if (ec) return self->drop("send failed: " + ec.message());
                        self->last_progress = Clock::now();
                        self->writing = false;
                        self->pump();
                      });
  }

  void read_header() {
    const std::uint64_t generation = connection_generation;
    asio::async_read(
        socket, asio::buffer(header),
        [self = this, generation](boost::system::error_code ec, std::size_t) {
          if (generation != self->connection_generation) return;
          if (ec) return self->drop("connection lost: " + ec.message());
          FrameHeader h;
          try {
            h = decode_header(self->header.data());
          } catch (const ProtocolError& e) {
            return self->drop(std::string("bad frame from the coordinator: ") + e.what());
          }
          self->payload.resize(h.payload_length);
          asio::async_read(
              self->socket, asio::buffer(self->payload),
              [self, generation, h](boost::system::error_code read_error, std::size_t) {
                if (generation != self->connection_generation) return;
                if (read_error) return self->drop("connection lost: " + read_error.message());
                self->on_frame(h);
              });
        });
  }

  void on_frame(const FrameHeader& h) {
    last_progress = Clock::now();
    Ack ack;
    try {
      Message message = decode_payload(h.type, payload);
      if (!std::holds_alternative<Ack>(message))
        return drop("the coordinator sent a " + std::string(message_type_name(h.type)));
      ack = std::get<Ack>(message);
    } catch (const ProtocolError& e) {
      return drop(std::string("bad frame from the coordinator: ") + e.what());
    }
    if (state == State::kHelloSent && ack.seq == hello_seq) {
      finished_hello(ack);
    } else {
      on_ack(ack);
    }
    if (state != State::kFailed && socket.is_open()) read_header();
  }

  void finished_hello(const Ack& ack) {
    if (ack.status != AckStatus::kOk)
      return fail("the coordinator at " + options.host + ":" + std::to_string(options.port) +
                  " refused rank " + std::to_string(options.hello.rank) + ": " + ack.message);
    first_hello_acknowledged = true;
    if (lost_connection) {
      lost_connection = false;
      warn("reconnected to the coordinator at " + address() + "; resending " +
           std::to_string(queue.size()) + " unacknowledged messages");
    }
    backoff = 0.1;
    state = State::kReady;
    set_connected(true);
    writing = false;
    heartbeat_due = true;
    pump();
  }

  void on_ack(const Ack& ack) {
    // Sent messages only (index < next), or the one being sent: an upload refused at
    // its Begin is answered before its last chunk went out; it stops there.
    for (std::size_t i = 0; i < queue.size() && i <= next; ++i) {
      if (queue[i].seq != ack.seq) continue;
      Outgoing out = std::move(queue[i]);
      queue.erase(queue.begin() + static_cast<long>(i));
      if (i < next) {
        --next;
      } else {
        phase = 0;
        offset = 0;
      }
      json detail = json::object();
      if (!ack.detail_json.empty()) {
        try {
          detail = json::parse(ack.detail_json);
        } catch (const json::exception&) {
        }
      }
      if (out.watch) {
        std::lock_guard<std::mutex> lock(mutex);
        watch_in_flight = false;
        if (ack.status == AckStatus::kOk) {
          watched = detail.value("ranks", json::array());
          watch_answered = Clock::now();
          watch_has_answer = true;
        }
        pump();
        return;
      }
      if (out.answer) {
        if (ack.status == AckStatus::kOk)
          out.answer->set_value(detail);
        else
          out.answer->set_exception(
              std::make_exception_ptr(std::runtime_error(out.what + ": " + ack.message)));
      } else if (ack.status != AckStatus::kOk) {
        problem(out.what + ": " + ack.message);
        if (out.bytes) {
          std::lock_guard<std::mutex> lock(mutex);
          lost_checkpoints.push_back(out.begin.epoch);
        }
      }
      finished();
      pump();
      return;
    }
  }

  void shutdown() {
    ++connection_generation;
    boost::system::error_code ec;
    socket.close(ec);
    retry_timer.cancel();
    tick_timer.cancel();
    work.reset();
    io.stop();
  }
};

CoordinatorClient::CoordinatorClient(ClientOptions options) : impl_(std::make_shared<Impl>()) {
  impl_->options = std::move(options);
  impl_->thread_ = std::thread([impl = impl_.get()] {
    ::pthread_setname_np(::pthread_self(), "fer-coord-cli");  // named in top -H, gdb
    impl->start();
    impl->io.run();
  });
}

CoordinatorClient::~CoordinatorClient() {
  stop_and_take_unsent();
}

std::vector<UnsentCheckpoint> CoordinatorClient::stop_and_take_unsent() {
  if (impl_->thread_.joinable()) {
    asio::post(impl_->io, [impl = impl_.get()] { impl->shutdown(); });
    impl_->thread_.join();
  }
  // The thread is gone: the queue is this thread's now.
  std::vector<UnsentCheckpoint> unsent;
  for (Impl::Outgoing& out : impl_->queue)
    if (out.bytes) unsent.push_back({out.begin.epoch, out.bytes});
  impl_->queue.clear();
  return unsent;
}

WatchedRanks CoordinatorClient::watched_ranks() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  const auto now = Clock::now();
  const auto age = [&](Clock::time_point t) {
    return std::chrono::duration<double>(now - t).count();
  };
  WatchedRanks result;
  result.ranks = impl_->watched;
  if (impl_->watch_has_answer) result.answer_age_seconds = age(impl_->watch_answered);
  if (impl_->watch_in_flight) result.asked_age_seconds = age(impl_->watch_sent);
  return result;
}

std::vector<int> CoordinatorClient::take_lost_checkpoints() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return std::exchange(impl_->lost_checkpoints, {});
}

void CoordinatorClient::report_eval(EvalReport report) {
  report.rank = impl_->options.hello.rank;
  report.seq = impl_->take_seq();
  Impl::Outgoing out;
  out.seq = report.seq;
  out.what = report.split + " evaluation of epoch " + std::to_string(report.epoch);
  out.frame = encode(report);
  impl_->enqueue(std::move(out));
}

void CoordinatorClient::upload_checkpoint(int epoch, std::int64_t step, std::string bytes,
                                          const json& metrics) {
  Impl::Outgoing out;
  out.seq = impl_->take_seq();
  out.what = "checkpoint of epoch " + std::to_string(epoch);
  out.bytes = std::make_shared<std::string>(std::move(bytes));
  out.begin.seq = out.seq;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    out.begin.upload_id = impl_->next_upload_id++;
  }
  out.begin.epoch = epoch;
  out.begin.step = step;
  out.begin.size = out.bytes->size();
  out.begin.metrics_json = metrics.dump();
  impl_->enqueue(std::move(out));
}

void CoordinatorClient::progress(int epoch, std::int64_t step) {
  asio::post(impl_->io, [impl = impl_.get(), epoch, step] {
    impl->epoch = epoch;
    impl->step = step;
  });
}

void CoordinatorClient::end(const std::string& reason) {
  Impl::Outgoing out;
  out.seq = impl_->take_seq();
  out.what = reason.empty() ? "end of run" : "abort notice";
  out.frame = encode(Abort{out.seq, impl_->options.hello.rank, reason});
  impl_->enqueue(std::move(out));
}

FlushResult CoordinatorClient::flush(double seconds, double give_up_disconnected_seconds) {
  std::unique_lock<std::mutex> lock(impl_->mutex);
  const std::uint64_t target = impl_->queued_total;
  const auto deadline = Clock::now() + millis(seconds);
  const auto done = [&] { return impl_->finished_total >= target || impl_->failed; };
  // In slices, so that a coordinator gone for good is given up on before the deadline.
  while (!done() && Clock::now() < deadline) {
    impl_->changed.wait_until(lock, std::min(deadline, Clock::now() + std::chrono::seconds(1)),
                              done);
    if (!impl_->is_connected &&
        Clock::now() - impl_->disconnected_since > millis(give_up_disconnected_seconds))
      break;
  }
  FlushResult result;
  result.complete = impl_->finished_total >= target;
  result.unacknowledged =
      static_cast<std::size_t>(target - std::min(target, impl_->finished_total));
  result.last_error = impl_->last_error;
  return result;
}

json CoordinatorClient::query(const std::string& what, double seconds) {
  Impl::Outgoing out;
  out.seq = impl_->take_seq();
  out.what = "query " + what;
  out.frame = encode(Query{out.seq, what});
  out.answer = std::make_shared<std::promise<json>>();
  auto future = out.answer->get_future();
  impl_->enqueue(std::move(out));
  if (future.wait_for(millis(seconds)) != std::future_status::ready) {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    throw std::runtime_error("the coordinator at " + impl_->options.host + ":" +
                             std::to_string(impl_->options.port) + " did not answer '" + what +
                             "' within " + std::to_string(static_cast<int>(seconds)) + " s" +
                             (impl_->last_error.empty() ? "" : " (" + impl_->last_error + ")"));
  }
  return future.get();
}

std::vector<std::string> CoordinatorClient::take_problems() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return std::exchange(impl_->problems, {});
}

}  // namespace fer::coord

namespace fer::coord {
bool CoordinatorClient::wait_connected(double seconds) {
  std::unique_lock<std::mutex> lock(impl_->mutex);
  impl_->changed.wait_for(lock, millis(seconds),
                          [&] { return impl_->is_connected || impl_->failed; });
  return impl_->is_connected;
}

std::string CoordinatorClient::last_error() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->last_error;
}
}  // namespace fer::coord
