// fer-bench-coordinator: the coordinator's figures (prints them; not a test, asserts no
// time). Against a real CoordinatorServer started in this process on 127.0.0.1, port 0
// (or an external one, --address host:port), with a fresh checkpoints directory:
//   1. fan-in: N ranks (default 512), one real TCP connection each, driven by one thread
//      with raw blocking sockets and poll(); per round all ranks but one report and are
//      acknowledged, then the last rank's report is timed to its Ack (which must say
//      aggregated:true); and "burst": all N reports written back to back, timed from the
//      last byte written to the aggregated Ack. Target p99 < 50 ms.
//   2. checkpoint ingest: an S-byte checkpoint (default 1 GiB) as Begin + 1 MiB Chunks +
//      End from one connection, timed from the first byte sent to the Ack; K runs.
//      Target >= 1 GB/s.
//   3. server memory: fer-coordinator as a child process (VmRSS from /proc/PID/status)
//      over 10,000 reports: world 2 (5,000 epochs), world 2 resending aggregated sets,
//      and world 1000 (10 rounds of 1000 reports).
//   fer-bench-coordinator [--ranks 512] [--rounds 50] [--checkpoint-mb 1024] [--repeats 3]
//                         [--reports 10000] [--address HOST:PORT] [--dir DIR]
//                         [--only fanin,ingest,memory]
#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/sha256.hpp"
#include "common/tool_main.hpp"
#include "coord/coordinator_server.hpp"
#include "coord/protocol.hpp"

namespace {

namespace coord = fer::coord;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

double seconds_since(Clock::time_point start, Clock::time_point end = Clock::now()) {
  return std::chrono::duration<double>(end - start).count();
}

double percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto index =
      static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1) + 0.5);
  return values[index];
}

double median(std::vector<double> values) {
  return percentile(std::move(values), 0.5);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// ---------------------------------------------------------------------------
// Sockets: one blocking TCP connection with a frame buffer; every wait has a deadline.
// ---------------------------------------------------------------------------

struct Address {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string text() const { return host + ":" + std::to_string(port); }
};

Address parse_address(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    throw fer::InputError("--address '" + text + "': expected HOST:PORT");
  Address a;
  a.host = text.substr(0, colon);
  try {
    const int port = std::stoi(text.substr(colon + 1));
    if (port <= 0 || port > 65535) throw std::out_of_range("port");
    a.port = static_cast<std::uint16_t>(port);
  } catch (const std::exception&) {
    throw fer::InputError("--address '" + text + "': the port is not a number in 1..65535");
  }
  return a;
}

int wait_ms(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

class Conn {
 public:
  Conn(const Address& address, double timeout_seconds)
      : address_(address.text()), timeout_(timeout_seconds) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int rc =
        ::getaddrinfo(address.host.c_str(), std::to_string(address.port).c_str(), &hints, &found);
    if (rc != 0)
      throw std::runtime_error("cannot connect to " + address_ + ": " + ::gai_strerror(rc));
    std::string error = "no address";
    for (addrinfo* ai = found; ai && fd_ < 0; ai = ai->ai_next) {
      const int fd =
          ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
      if (fd < 0) {
        error = std::strerror(errno);
        continue;
      }
      if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
        error = std::strerror(errno);
        ::close(fd);
        continue;
      }
      pollfd p{fd, POLLOUT, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(timeout_ * 1000));
      int so_error = 0;
      socklen_t len = sizeof so_error;
      if (ready <= 0) {
        error = ready == 0 ? "no answer within " + std::to_string(static_cast<int>(timeout_)) + " s"
                           : std::strerror(errno);
        ::close(fd);
        continue;
      }
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
      if (so_error != 0) {
        error = std::strerror(so_error);
        ::close(fd);
        continue;
      }
      fd_ = fd;
    }
    ::freeaddrinfo(found);
    if (fd_ < 0) throw std::runtime_error("cannot connect to " + address_ + ": " + error);
    // Blocking from here on, with deadlines as a backstop for every send and receive.
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
    timeval tv{static_cast<time_t>(timeout_),
               static_cast<suseconds_t>(
                   (timeout_ - static_cast<double>(static_cast<time_t>(timeout_))) * 1e6)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Conn() {
    if (fd_ >= 0) ::close(fd_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  int fd() const { return fd_; }
  const std::string& address() const { return address_; }
  std::uint64_t next_seq() { return ++seq_; }

  void send_all(const char* data, std::size_t size) {
    while (size > 0) {
      const ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        throw std::runtime_error("sending to " + address_ + ": the coordinator took nothing for " +
                                 std::to_string(static_cast<int>(timeout_)) + " s");
      if (n < 0) throw std::runtime_error("sending to " + address_ + ": " + std::strerror(errno));
      data += n;
      size -= static_cast<std::size_t>(n);
    }
  }
  void send(const std::string& frame) { send_all(frame.data(), frame.size()); }

  // Reads what the socket holds now (never blocks); throws on a closed connection.
  void pump() {
    char chunk[16384];
    for (;;) {
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT);
      if (n > 0) {
        buffer_.append(chunk, static_cast<std::size_t>(n));
        if (static_cast<std::size_t>(n) < sizeof chunk) return;
        continue;
      }
      if (n == 0) throw std::runtime_error(address_ + " closed the connection (see its log)");
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      throw std::runtime_error("receiving from " + address_ + ": " + std::strerror(errno));
    }
  }

  // The next complete Ack in the buffer, if any; anything else is a protocol error.
  std::optional<coord::Ack> next_ack() {
    if (buffer_.size() - consumed_ < coord::kHeaderBytes) return std::nullopt;
    const auto* header = reinterpret_cast<const unsigned char*>(buffer_.data() + consumed_);
    const coord::FrameHeader h = coord::decode_header(header);
    if (buffer_.size() - consumed_ < coord::kHeaderBytes + h.payload_length) return std::nullopt;
    coord::Message m = coord::decode_payload(
        h.type,
        std::string_view(buffer_.data() + consumed_ + coord::kHeaderBytes, h.payload_length));
    consumed_ += coord::kHeaderBytes + h.payload_length;
    if (consumed_ == buffer_.size()) {
      buffer_.clear();
      consumed_ = 0;
    }
    if (!std::holds_alternative<coord::Ack>(m))
      throw std::runtime_error(address_ + " sent a " + coord::message_type_name(h.type) +
                               " frame where an Ack was expected");
    return std::get<coord::Ack>(std::move(m));
  }

  // Waits (poll, then the socket's own deadline) for the next Ack.
  coord::Ack read_ack(const std::string& what, double timeout_seconds = -1) {
    const double limit = timeout_seconds > 0 ? timeout_seconds : timeout_;
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(limit));
    for (;;) {
      if (auto ack = next_ack()) return *ack;
      pollfd p{fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, wait_ms(deadline));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0)
        throw std::runtime_error("no Ack from " + address_ + " within " +
                                 std::to_string(static_cast<int>(limit)) + " s (" + what + ")");
      pump();
    }
  }

 private:
  std::string address_;
  double timeout_;
  int fd_ = -1;
  std::uint64_t seq_ = 0;
  std::string buffer_;
  std::size_t consumed_ = 0;
};

void expect_ok(const coord::Ack& ack, const std::string& what) {
  if (ack.status != coord::AckStatus::kOk)
    throw std::runtime_error(what + ": the coordinator answered " +
                             (ack.status == coord::AckStatus::kRejected ? "rejected" : "error") +
                             ": " + ack.message);
}

struct Arrival {
  coord::Ack ack;
  Clock::time_point at;
};

// One Ack from each connection, each timestamped as it arrives (poll over the set).
// A wait of `timeout` seconds without any Ack arriving is an error.
std::vector<Arrival> collect_one_each(const std::vector<Conn*>& conns, double timeout,
                                      const std::string& what) {
  std::vector<Arrival> out(conns.size());
  std::vector<std::size_t> waiting(conns.size());
  for (std::size_t i = 0; i < conns.size(); ++i) waiting[i] = i;
  std::vector<pollfd> fds;
  while (!waiting.empty()) {
    // Already buffered ones first.
    std::vector<std::size_t> still;
    for (std::size_t i : waiting) {
      if (auto ack = conns[i]->next_ack()) {
        out[i] = {std::move(*ack), Clock::now()};
      } else {
        still.push_back(i);
      }
    }
    waiting.swap(still);
    if (waiting.empty()) break;
    fds.clear();
    for (std::size_t i : waiting) fds.push_back({conns[i]->fd(), POLLIN, 0});
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(timeout * 1000));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0)
      throw std::runtime_error("no Ack from " + conns[waiting.front()]->address() + " on " +
                               std::to_string(waiting.size()) + " of " +
                               std::to_string(conns.size()) + " connections within " +
                               std::to_string(static_cast<int>(timeout)) + " s (" + what + ")");
    for (std::size_t k = 0; k < fds.size(); ++k)
      if (fds[k].revents) conns[waiting[k]]->pump();
  }
  return out;
}

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

coord::Hello make_hello(const std::string& run, std::uint32_t rank, std::uint32_t world) {
  coord::Hello h;
  h.run = run;
  h.rank = rank;
  h.world_size = world;
  h.host = "bench";
  h.pid = static_cast<std::uint32_t>(::getpid());
  h.config_hash = "bench-config-0001";
  return h;
}

// Connects `world` ranks (or the ranks listed) and says Hello on each; returns them.
std::vector<std::unique_ptr<Conn>> connect_ranks(const Address& address, const std::string& run,
                                                 std::uint32_t world, double timeout) {
  std::vector<std::unique_ptr<Conn>> conns;
  conns.reserve(world);
  std::string frame;
  for (std::uint32_t r = 0; r < world; ++r) {
    conns.push_back(std::make_unique<Conn>(address, timeout));
    coord::Hello h = make_hello(run, r, world);
    h.seq = conns.back()->next_seq();
    frame.clear();
    coord::encode_into(h, frame);
    conns.back()->send(frame);
  }
  std::vector<Conn*> raw;
  for (auto& c : conns) raw.push_back(c.get());
  for (const Arrival& a : collect_one_each(raw, timeout, "Hello of run " + run))
    expect_ok(a.ack, "Hello of run " + run);
  return conns;
}

struct Counts {
  std::vector<std::int64_t> sum = std::vector<std::int64_t>(49, 0);
  std::int64_t samples = 0;
};

coord::EvalReport make_report(std::mt19937_64& rng, int epoch, std::uint32_t rank, Counts* total) {
  coord::EvalReport r;
  r.split = "val";
  r.epoch = epoch;
  r.rank = rank;
  r.classes = 7;
  r.counts.resize(49);
  std::uniform_int_distribution<int> count(0, 40);
  for (std::size_t i = 0; i < 49; ++i) {
    r.counts[i] = count(rng);
    r.samples += r.counts[i];
    if (total) total->sum[i] += r.counts[i];
  }
  if (total) total->samples += r.samples;
  r.loss_sum = static_cast<double>(r.samples) * std::uniform_real_distribution<double>(0.5, 2)(rng);
  return r;
}

void flatten(const json& j, std::vector<std::int64_t>& out) {
  if (j.is_array()) {
    for (const json& v : j) flatten(v, out);
  } else {
    out.push_back(j.get<std::int64_t>());
  }
}

// detail_json of an Ack to a report; throws unless it is OK.
json report_detail(const coord::Ack& ack, const std::string& what) {
  expect_ok(ack, what);
  try {
    return json::parse(ack.detail_json);
  } catch (const json::exception& e) {
    throw std::runtime_error(what + ": the Ack's detail is not JSON: " + e.what());
  }
}

bool is_aggregated(const json& detail) {
  return detail.is_object() && detail.value("aggregated", false);
}

// The aggregated Ack must carry the exact sums of what was sent.
void verify_aggregate(const json& detail, const Counts& total, const std::string& what) {
  if (!is_aggregated(detail))
    throw std::runtime_error(what + ": the Ack does not say aggregated:true: " + detail.dump());
  const json& m = detail.at("metrics");
  std::vector<std::int64_t> matrix;
  flatten(m.at("val_confusion_matrix"), matrix);
  if (m.at("val_images").get<std::int64_t>() != total.samples || matrix != total.sum)
    throw std::runtime_error(what + ": the aggregated metrics do not match the reports sent (" +
                             std::to_string(m.at("val_images").get<std::int64_t>()) + " images, " +
                             std::to_string(total.samples) + " sent)");
}

// ---------------------------------------------------------------------------
// The machine
// ---------------------------------------------------------------------------

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return trim(line.substr(line.find(':') + 2));
  return "?";
}

// Append ~300 bytes + fsync, the way the coordinator journals a report: the floor of
// every durable acknowledgement on this disk.
std::vector<double> fsync_reference(const fs::path& dir, int times) {
  const fs::path path = dir / "fsync-reference";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(path.string() + ": " + std::strerror(errno));
  const std::string line(299, 'x');
  std::vector<double> ms;
  for (int i = 0; i < times; ++i) {
    const auto t = Clock::now();
    if (::write(fd, (line + "\n").data(), 300) != 300 || ::fsync(fd) != 0) {
      ::close(fd);
      throw std::runtime_error(path.string() + ": write/fsync failed: " + std::strerror(errno));
    }
    ms.push_back(seconds_since(t) * 1000);
  }
  ::close(fd);
  fs::remove(path);
  return ms;
}

void print_rule() {
  std::printf("%s\n", std::string(96, '-').c_str());
}

// ---------------------------------------------------------------------------
// 1. Fan-in latency
// ---------------------------------------------------------------------------

struct Options {
  int ranks = 512;
  int rounds = 50;
  int burst_rounds = -1;
  double checkpoint_mb = 1024;
  int repeats = 3;
  int reports = 10000;
  int big_world = 1000;
  std::string address;
  std::string dir;
  std::string coordinator;
  std::string only = "fanin,ingest,memory";
  double timeout = 30;
  double checkpoint_ack_timeout = 300;
  bool keep_dir = false;
  std::uint64_t seed = 1;
};

void print_latency_row(const char* label, const std::vector<double>& ms) {
  std::printf("  %-44s %8.2f %8.2f %8.2f %8.2f %6zu\n", label, percentile(ms, 0.5),
              percentile(ms, 0.9), percentile(ms, 0.99), *std::max_element(ms.begin(), ms.end()),
              ms.size());
}

void bench_fanin(const Options& o, const Address& address, const std::string& run) {
  const auto world = static_cast<std::uint32_t>(o.ranks);
  const int burst_rounds = o.burst_rounds < 0 ? o.rounds : o.burst_rounds;
  std::printf(
      "1. Fan-in latency: %u ranks, one TCP connection each (raw sockets, one client "
      "thread, poll), run %s\n",
      world, run.c_str());
  const auto t_connect = Clock::now();
  auto conns = connect_ranks(address, run, world, o.timeout);
  const double connect_s = seconds_since(t_connect);
  std::printf(
      "  connect + Hello of %u ranks: %.2f s (%.2f ms per rank; coordinator.json is "
      "rewritten, with 2 fsyncs, only when the run's world size or state changes)\n",
      world, connect_s, connect_s * 1000 / world);
  std::vector<Conn*> all;
  for (auto& c : conns) all.push_back(c.get());
  std::vector<Conn*> others(all.begin(), all.end() - 1);
  Conn& last = *all.back();

  std::mt19937_64 rng(o.seed);
  std::string frame;
  std::vector<double> sequential_ms, others_s;
  int epoch = 0;
  for (int round = 0; round < o.rounds; ++round) {
    ++epoch;
    Counts total;
    const auto t_others = Clock::now();
    for (std::uint32_t r = 0; r + 1 < world; ++r) {
      coord::EvalReport rep = make_report(rng, epoch, r, &total);
      rep.seq = all[r]->next_seq();
      frame.clear();
      coord::encode_into(rep, frame);
      all[r]->send(frame);
    }
    for (const Arrival& a :
         collect_one_each(others, o.timeout, "reports of epoch " + std::to_string(epoch)))
      if (is_aggregated(report_detail(a.ack, "report of epoch " + std::to_string(epoch))))
        throw std::runtime_error("epoch " + std::to_string(epoch) +
                                 ": aggregated before the last rank reported");
    others_s.push_back(seconds_since(t_others));
    coord::EvalReport rep = make_report(rng, epoch, world - 1, &total);
    rep.seq = last.next_seq();
    frame.clear();
    coord::encode_into(rep, frame);
    const auto t0 = Clock::now();
    last.send(frame);
    const coord::Ack ack = last.read_ack("the last report of epoch " + std::to_string(epoch));
    const auto t1 = Clock::now();
    verify_aggregate(report_detail(ack, "last report of epoch " + std::to_string(epoch)), total,
                     "epoch " + std::to_string(epoch));
    sequential_ms.push_back(seconds_since(t0, t1) * 1000);
  }

  // Burst: every rank's report written back to back, nobody waiting for anyone.
  std::vector<double> burst_ms, burst_total_ms, burst_all_acks_ms;
  int aggregated_by_last_written = 0;
  std::vector<std::string> frames(world);
  for (int round = 0; round < burst_rounds; ++round) {
    ++epoch;
    Counts total;
    for (std::uint32_t r = 0; r < world; ++r) {
      coord::EvalReport rep = make_report(rng, epoch, r, &total);
      rep.seq = all[r]->next_seq();
      frames[r].clear();
      coord::encode_into(rep, frames[r]);
    }
    const auto t_first = Clock::now();
    for (std::uint32_t r = 0; r < world; ++r) all[r]->send(frames[r]);
    const auto t_last = Clock::now();
    const auto arrivals =
        collect_one_each(all, o.timeout, "burst of epoch " + std::to_string(epoch));
    int aggregated = -1;
    Clock::time_point last_ack = t_last;
    for (std::uint32_t r = 0; r < world; ++r) {
      const json d =
          report_detail(arrivals[r].ack, "burst report of epoch " + std::to_string(epoch));
      last_ack = std::max(last_ack, arrivals[r].at);
      if (!is_aggregated(d)) continue;
      if (aggregated >= 0)
        throw std::runtime_error("epoch " + std::to_string(epoch) + ": aggregated twice");
      aggregated = static_cast<int>(r);
      verify_aggregate(d, total, "burst epoch " + std::to_string(epoch));
    }
    if (aggregated < 0)
      throw std::runtime_error("epoch " + std::to_string(epoch) +
                               ": all reports acknowledged, none says aggregated:true");
    if (aggregated == static_cast<int>(world) - 1) ++aggregated_by_last_written;
    burst_ms.push_back(seconds_since(t_last, arrivals[aggregated].at) * 1000);
    burst_total_ms.push_back(seconds_since(t_first, arrivals[aggregated].at) * 1000);
    burst_all_acks_ms.push_back(seconds_since(t_first, last_ack) * 1000);
  }
  conns.clear();

  std::printf(
      "  sequential: %d rounds; per round ranks 0..%u report and are acknowledged first "
      "(median %.2f s for the %u), then rank %u's report is timed\n",
      o.rounds, world - 2, median(others_s), world - 1, world - 1);
  std::printf(
      "  burst: %d rounds; all %u reports written back to back (writing took the client "
      "well under the figures below), timed from the last byte written\n",
      burst_rounds, world);
  std::printf("  %-44s %8s %8s %8s %8s %6s\n", "milliseconds", "p50", "p90", "p99", "max", "n");
  if (!sequential_ms.empty())
    print_latency_row("sequential: last report -> aggregated Ack", sequential_ms);
  if (!burst_ms.empty()) {
    print_latency_row("burst: last byte written -> aggregated Ack", burst_ms);
    print_latency_row("burst: first byte written -> aggregated Ack", burst_total_ms);
    print_latency_row("burst: first byte written -> every Ack", burst_all_acks_ms);
    std::printf(
        "  burst: the report that completed the set was the last one written in %d of %d "
        "rounds\n",
        aggregated_by_last_written, burst_rounds);
  }
  const auto verdict = [](const std::vector<double>& ms) {
    return ms.empty() ? "-" : percentile(ms, 0.99) < 50 ? "met" : "NOT MET";
  };
  std::printf("  target p99 < 50 ms: sequential %s (p99 %.2f ms); burst %s (p99 %.2f ms)\n",
              verdict(sequential_ms), percentile(sequential_ms, 0.99), verdict(burst_ms),
              percentile(burst_ms, 0.99));
  std::printf(
      "  every aggregated Ack was checked: aggregated:true and its val_images and "
      "val_confusion_matrix equal the sums of the reports sent\n");
}

// ---------------------------------------------------------------------------
// 2. Checkpoint ingest
// ---------------------------------------------------------------------------

// Another rank's view while a checkpoint streams in: on its own connection (its own
// run, world 1) a Query "latest" every `period_ms`, each round trip timed. The server
// handles everything on one thread, so what an upload makes it do shows up here.
class Probe {
 public:
  Probe(const Address& address, const std::string& run, double timeout, int period_ms)
      : conn_(address, timeout) {
    coord::Hello h = make_hello(run, 0, 1);
    h.seq = conn_.next_seq();
    conn_.send(coord::encode(h));
    expect_ok(conn_.read_ack("Hello of run " + run), "Hello of run " + run);
    thread_ = std::thread([this, period_ms] {
      try {
        while (!stop_) {
          coord::Query q;
          q.seq = conn_.next_seq();
          q.what = "latest";
          const auto t = Clock::now();
          conn_.send(coord::encode(q));
          expect_ok(conn_.read_ack("probe query"), "probe query");
          samples_.push_back({t, seconds_since(t) * 1000});
          std::this_thread::sleep_until(t + std::chrono::milliseconds(period_ms));
        }
      } catch (const std::exception& e) {
        error_ = e.what();
      }
    });
  }
  ~Probe() { finish(); }
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;
  void finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (!error_.empty()) throw std::runtime_error("probe connection: " + error_);
  }
  // Round trips of the queries sent within [from, to) (call after finish()).
  std::vector<double> between(Clock::time_point from, Clock::time_point to) const {
    std::vector<double> ms;
    for (const auto& [t, rtt] : samples_)
      if (t >= from && t < to) ms.push_back(rtt);
    return ms;
  }

 private:
  Conn conn_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::string error_;
  std::vector<std::pair<Clock::time_point, double>> samples_;
};

void bench_ingest(const Options& o, const Address& address, const std::string& run,
                  const fs::path& work) {
  const auto size = static_cast<std::uint64_t>(o.checkpoint_mb * 1024 * 1024);
  const std::size_t chunk_bytes = coord::kCheckpointChunkBytes;
  std::printf(
      "2. Checkpoint ingest on loopback: %llu bytes (%.0f MiB) per upload as "
      "CheckpointBegin + %zu-byte CheckpointChunks + CheckpointEnd, one connection, run "
      "%s\n",
      static_cast<unsigned long long>(size), static_cast<double>(size) / (1 << 20), chunk_bytes,
      run.c_str());
  auto t = Clock::now();
  std::unique_ptr<char[]> payload(new char[size]);
  {
    std::uint64_t x = o.seed * 0x9E3779B97F4A7C15ull + 1;
    std::uint64_t i = 0;
    for (; i + 8 <= size; i += 8) {  // splitmix64
      std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      z ^= z >> 31;
      std::memcpy(payload.get() + i, &z, 8);
    }
    for (; i < size; ++i) payload[i] = static_cast<char>(i * 131);
  }
  const double generate_s = seconds_since(t);
  t = Clock::now();
  fer::Sha256 hash;
  hash.update(payload.get(), size);
  const std::string sha = hash.hex_digest();
  const double sha_s = seconds_since(t);
  std::printf(
      "  payload: random bytes made once (%.2f s); SHA-256 here with fer::Sha256 before "
      "timing: %.2f s = %.0f MB/s (the server hashes at about this rate too)\n",
      generate_s, sha_s, static_cast<double>(size) / sha_s / 1e6);
  std::printf("  vm.dirty_background_ratio %s%%, vm.dirty_ratio %s%%, memory %s\n",
              trim(read_text("/proc/sys/vm/dirty_background_ratio")).c_str(),
              trim(read_text("/proc/sys/vm/dirty_ratio")).c_str(),
              [] {
                std::ifstream in("/proc/meminfo");
                std::string line;
                std::getline(in, line);
                return trim(line.substr(line.find(':') + 1));
              }()
                  .c_str());

  Conn conn(address, o.timeout);
  {
    coord::Hello h = make_hello(run, 0, 1);
    h.seq = conn.next_seq();
    conn.send(coord::encode(h));
    expect_ok(conn.read_ack("Hello of run " + run), "Hello of run " + run);
  }
  constexpr int kProbePeriodMs = 20;
  Probe probe(address, run + "-probe", o.timeout, kProbePeriodMs);
  struct Row {
    int epoch;
    double send_s, wait_s, total_s;
    Clock::time_point t0, t_sent, t1;
  };
  std::vector<Row> rows;
  std::string frame;
  frame.reserve(chunk_bytes + 64);
  for (int k = 0; k < o.repeats; ++k) {
    const int epoch = k + 1;
    coord::CheckpointBegin begin;
    begin.seq = conn.next_seq();
    begin.upload_id = static_cast<std::uint64_t>(epoch);
    begin.epoch = epoch;
    begin.step = epoch * 1000;
    begin.size = size;
    begin.sha256 = sha;
    begin.metrics_json = json{{"val_accuracy", 0.5 + 0.01 * epoch}, {"val_loss", 1.0}}.dump();
    const auto t0 = Clock::now();
    frame.clear();
    coord::encode_into(begin, frame);
    conn.send(frame);
    for (std::uint64_t offset = 0; offset < size; offset += chunk_bytes) {
      coord::CheckpointChunk chunk;
      chunk.upload_id = begin.upload_id;
      chunk.offset = offset;
      chunk.data = std::string_view(
          payload.get() + offset,
          static_cast<std::size_t>(std::min<std::uint64_t>(chunk_bytes, size - offset)));
      frame.clear();
      coord::encode_into(chunk, frame);
      conn.send(frame);
    }
    frame.clear();
    coord::encode_into(coord::CheckpointEnd{begin.upload_id}, frame);
    conn.send(frame);
    const auto t_sent = Clock::now();
    const coord::Ack ack =
        conn.read_ack("checkpoint of epoch " + std::to_string(epoch), o.checkpoint_ack_timeout);
    const auto t1 = Clock::now();
    expect_ok(ack, "checkpoint of epoch " + std::to_string(epoch));
    const json detail = json::parse(ack.detail_json);
    if (!detail.contains("stored") || detail["stored"].value("sha256", "") != sha ||
        detail["stored"].value("bytes", std::uint64_t{0}) != size)
      throw std::runtime_error("checkpoint of epoch " + std::to_string(epoch) +
                               ": the Ack does not describe the stored file: " + ack.detail_json);
    rows.push_back({epoch, seconds_since(t0, t_sent), seconds_since(t_sent, t1),
                    seconds_since(t0, t1), t0, t_sent, t1});
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(10 * kProbePeriodMs));
  const Clock::time_point t_idle_end = Clock::now();
  probe.finish();

  const double mb = static_cast<double>(size) / 1e6;
  std::printf("  %-5s %-6s %12s %14s %16s %10s %12s\n", "run", "epoch", "send s", "send MB/s",
              "last byte->Ack s", "total s", "MB/s");
  std::vector<double> rates;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    rates.push_back(mb / r.total_s);
    std::printf(
        "  %-5zu %-6d %12.2f %14.0f %16.2f %10.2f %12.0f%s\n", i + 1, r.epoch, r.send_s,
        mb / r.send_s, r.wait_s, r.total_s, mb / r.total_s,
        r.wait_s > 0.5 * r.total_s ? "   <- the wait after the last byte dominates (fsync)" : "");
  }
  const double med = median(rates);
  std::printf("  median: %.0f MB/s (first byte sent -> Ack); target >= 1000 MB/s (1 GB/s): %s\n",
              med, med >= 1000 ? "met" : "NOT MET");
  std::printf(
      "  inside the figure: loopback TCP, the server's SHA-256 of every chunk, its write(2)s "
      "into the page cache, and the fsync of the file (+ rename, manifest.json, latest/best "
      "pointers, directory fsync) before the Ack; 1 MB = 10^6 bytes\n");
  std::printf(
      "  'last byte->Ack' is what the server still had to do once the client's last byte "
      "left: drain the socket buffers, finish hashing, fsync, commit\n");

  std::printf(
      "  meanwhile another connection (run %s-probe) sent a Query \"latest\" every %d ms; "
      "its round trips:\n",
      run.c_str(), kProbePeriodMs);
  std::printf("  %-44s %8s %8s %8s %8s %6s\n", "milliseconds", "p50", "p90", "p99", "max", "n");
  std::vector<double> streaming, committing;
  for (const Row& r : rows) {
    for (double v : probe.between(r.t0, r.t_sent)) streaming.push_back(v);
    for (double v : probe.between(r.t_sent, r.t1)) committing.push_back(v);
  }
  const std::vector<double> idle = probe.between(rows.back().t1, t_idle_end);
  if (!idle.empty()) print_latency_row("probe, no upload in progress", idle);
  if (!streaming.empty()) print_latency_row("probe, while chunks stream in", streaming);
  if (!committing.empty())
    print_latency_row("probe, between the last byte and the Ack", committing);

  // Disk reference: the same bytes written and fsynced directly in the same directory.
  {
    const fs::path path = work / "disk-reference.bin";
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error(path.string() + ": " + std::strerror(errno));
    const auto w0 = Clock::now();
    for (std::uint64_t offset = 0; offset < size; offset += chunk_bytes) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_bytes, size - offset));
      if (::write(fd, payload.get() + offset, n) != static_cast<ssize_t>(n)) {
        ::close(fd);
        throw std::runtime_error(path.string() + ": write failed: " + std::strerror(errno));
      }
    }
    const double write_s = seconds_since(w0);
    const auto f0 = Clock::now();
    ::fsync(fd);
    const double fsync_s = seconds_since(f0);
    ::close(fd);
    fs::remove(path);
    std::printf(
        "  disk reference (no network, no hash, same directory): write(2) of the %.0f MiB "
        "%.2f s (%.0f MB/s) + fsync %.2f s = %.0f MB/s\n",
        static_cast<double>(size) / (1 << 20), write_s, mb / write_s, fsync_s,
        mb / (write_s + fsync_s));
  }
}

// ---------------------------------------------------------------------------
// 3. Memory: fer-coordinator as a child process
// ---------------------------------------------------------------------------

class ChildCoordinator {
 public:
  ChildCoordinator(const std::string& binary, const fs::path& checkpoints, double timeout) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
      throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    const std::vector<std::string> args = {
        binary, "--port", "0", "--http-port", "-1", "-q", "--checkpoints", checkpoints.string()};
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid_ == 0) {
      ::dup2(pipe_fds[1], 1);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(binary.c_str(), argv.data());
      std::fprintf(stderr, "cannot run %s: %s\n", binary.c_str(), std::strerror(errno));
      ::_exit(127);
    }
    ::close(pipe_fds[1]);
    out_ = pipe_fds[0];
    // The first line: "fer-coordinator: serving DIR/ on 127.0.0.1:PORT"
    std::string line;
    const auto deadline = Clock::now() + std::chrono::seconds(static_cast<long>(timeout));
    while (line.find('\n') == std::string::npos) {
      pollfd p{out_, POLLIN, 0};
      const int ready = ::poll(&p, 1, wait_ms(deadline));
      char c[256];
      const ssize_t n = ready > 0 ? ::read(out_, c, sizeof c) : -1;
      if (n <= 0) {
        stop();
        throw std::runtime_error(binary + " did not say where it serves within " +
                                 std::to_string(static_cast<int>(timeout)) + " s (output: '" +
                                 line + "', " + exit_text_ + ")");
      }
      line.append(c, static_cast<std::size_t>(n));
    }
    rest_ = line.substr(line.find('\n') + 1);
    line = line.substr(0, line.find('\n'));
    const auto on = line.rfind(" on ");
    const auto colon = line.rfind(':');
    if (on == std::string::npos || colon == std::string::npos || colon < on) {
      stop();
      throw std::runtime_error(binary + ": unexpected first line '" + line + "'");
    }
    address_.host = line.substr(on + 4, colon - on - 4);
    int port = 0;
    try {
      port = std::stoi(line.substr(colon + 1));
    } catch (const std::exception&) {
    }
    if (port <= 0 || port > 65535) {
      stop();
      throw std::runtime_error(binary + ": no port in its first line '" + line + "'");
    }
    address_.port = static_cast<std::uint16_t>(port);
    // Later output (warnings) goes to our stderr. Polls, so that stop() never waits on
    // a pipe some other process still holds open.
    drain_ = std::thread([this] {
      if (!rest_.empty()) std::cerr << "[fer-coordinator] " << rest_;
      char c[4096];
      while (!stopping_) {
        pollfd p{out_, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        const ssize_t n = ::read(out_, c, sizeof c);
        if (n <= 0) break;
        std::cerr.write(c, n);
      }
      for (pollfd p{out_, POLLIN, 0}; ::poll(&p, 1, 0) > 0;) {  // what is left, if anything
        const ssize_t n = ::read(out_, c, sizeof c);
        if (n <= 0) break;
        std::cerr.write(c, n);
      }
    });
  }
  ~ChildCoordinator() { stop(); }
  ChildCoordinator(const ChildCoordinator&) = delete;
  ChildCoordinator& operator=(const ChildCoordinator&) = delete;

  pid_t pid() const { return pid_; }
  const Address& address() const { return address_; }

  // VmRSS (and VmHWM) of the child in bytes.
  std::pair<std::uint64_t, std::uint64_t> rss() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::uint64_t rss = 0, hwm = 0;
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("VmRSS:", 0) == 0) rss = std::stoull(line.substr(6)) * 1024;
      if (line.rfind("VmHWM:", 0) == 0) hwm = std::stoull(line.substr(6)) * 1024;
    }
    if (rss == 0) throw std::runtime_error("/proc/" + std::to_string(pid_) + "/status: no VmRSS");
    return {rss, hwm};
  }

  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      bool done = false;
      for (int i = 0; i < 100 && !done; ++i) {
        done = ::waitpid(pid_, &status, WNOHANG) == pid_;
        if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (!done) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
      }
      exit_text_ = WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                                     : "killed by signal " + std::to_string(WTERMSIG(status));
      pid_ = -1;
    }
    stopping_ = true;
    if (drain_.joinable()) drain_.join();
    if (out_ >= 0) ::close(out_);
    out_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  Address address_;
  std::thread drain_;
  std::atomic<bool> stopping_{false};
  std::string rest_;
  std::string exit_text_ = "still running";
};

std::uint64_t size_of(const fs::path& p) {
  std::error_code ec;
  const auto s = fs::file_size(p, ec);
  return ec ? 0 : s;
}

// Heap bytes (glibc mallinfo2) that the metrics lines of `path` take as nlohmann::json,
// the way the server holds them (a json array of parsed lines).
std::uint64_t json_heap_bytes(const fs::path& path) {
  const auto used = [] {
    const struct mallinfo2 m = ::mallinfo2();
    return m.uordblks + m.hblkhd;
  };
  const std::size_t before = used();
  auto lines = std::make_unique<json>(json::array());
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines->push_back(json::parse(line));
  const std::size_t after = used();
  return after > before ? after - before : 0;
}

double mib(std::uint64_t bytes) {
  return static_cast<double>(bytes) / (1 << 20);
}

void bench_memory(const Options& o, const fs::path& work) {
  std::string binary = o.coordinator;
  if (binary.empty())
    binary = (fs::read_symlink("/proc/self/exe").parent_path() / "fer-coordinator").string();
  if (::access(binary.c_str(), X_OK) != 0)
    throw fer::InputError(binary + ": no fer-coordinator to run (build it or pass --coordinator)");
  const int reports = std::max(2, o.reports / 2 * 2);
  std::printf(
      "3. Server memory: %s as a child process (--port 0 --http-port -1 -q), VmRSS from "
      "/proc/PID/status; one fresh process per case\n",
      binary.c_str());
  std::mt19937_64 rng(o.seed + 7);
  std::string frame;
  const auto send_report = [&](Conn& c, int epoch, std::uint32_t rank) {
    coord::EvalReport rep = make_report(rng, epoch, rank, nullptr);
    rep.seq = c.next_seq();
    frame.clear();
    coord::encode_into(rep, frame);
    c.send(frame);
  };
  std::vector<int> marks = {0, reports / 10, reports / 5, reports / 2, reports};
  for (int& m : marks) m = m / 2 * 2;

  // a) and b): world 2.
  for (const bool cycle : {false, true}) {
    const std::string run = cycle ? "bench-mem-resend" : "bench-mem-world2";
    const int distinct_epochs = cycle ? 100 : reports / 2;
    const fs::path dir = work / run;
    ChildCoordinator child(binary, dir, o.timeout);
    if (!cycle)
      std::printf(
          "  a) world 2, %d epochs x 2 ranks = %d reports (per epoch: one report waits in "
          "the journal, the other completes the set); pid %d\n",
          reports / 2, reports, static_cast<int>(child.pid()));
    else
      std::printf(
          "  b) world 2, %d reports cycling over epochs 1..%d: after the first %d every "
          "report resends an aggregated set (acknowledged as a duplicate); pid %d\n",
          reports, distinct_epochs, 2 * distinct_epochs, static_cast<int>(child.pid()));
    auto conns = connect_ranks(child.address(), run, 2, o.timeout);
    std::vector<Conn*> both = {conns[0].get(), conns[1].get()};
    std::printf("    %8s %10s %10s %10s %16s %20s %8s\n", "reports", "RSS MiB", "HWM MiB",
                "delta KiB", "metrics.jsonl KiB", "eval-reports.jsonl KiB", "s");
    const auto rss0 = child.rss().first;
    const auto t0 = Clock::now();
    std::size_t next_mark = 0;
    int duplicates = 0;
    for (int sent = 0;; sent += 2) {
      if (next_mark < marks.size() && sent == marks[next_mark]) {
        const auto [rss, hwm] = child.rss();
        std::printf("    %8d %10.1f %10.1f %10.0f %16.0f %20.0f %8.1f\n", sent, mib(rss), mib(hwm),
                    (static_cast<double>(rss) - static_cast<double>(rss0)) / 1024,
                    static_cast<double>(size_of(dir / run / "metrics.jsonl")) / 1024,
                    static_cast<double>(size_of(dir / run / "eval-reports.jsonl")) / 1024,
                    seconds_since(t0));
        ++next_mark;
      }
      if (sent >= reports) break;
      const int epoch = (sent / 2) % distinct_epochs + 1;
      send_report(*conns[0], epoch, 0);
      send_report(*conns[1], epoch, 1);
      for (const Arrival& a :
           collect_one_each(both, o.timeout, run + " epoch " + std::to_string(epoch))) {
        const json d = report_detail(a.ack, run + " epoch " + std::to_string(epoch));
        duplicates += d.value("duplicate", false) ? 1 : 0;
      }
    }
    const auto rss_end = child.rss().first;
    const std::uint64_t disk = size_of(dir / run / "metrics.jsonl");
    const std::uint64_t heap = json_heap_bytes(dir / run / "metrics.jsonl");
    const double delta = static_cast<double>(rss_end) - static_cast<double>(rss0);
    std::printf(
        "    %d duplicate acknowledgements; metrics lines held for /status: %d, %.0f KiB "
        "on disk, %.0f KiB as nlohmann::json (parsed here, glibc mallinfo2)\n",
        duplicates, distinct_epochs, static_cast<double>(disk) / 1024,
        static_cast<double>(heap) / 1024);
    std::printf(
        "    growth per report: %.0f B in all; beyond the metrics lines: %.0f B (their "
        "size on disk subtracted), %.0f B (their in-memory size subtracted)\n",
        delta / reports, (delta - static_cast<double>(disk)) / reports,
        (delta - static_cast<double>(heap)) / reports);
    conns.clear();
  }

  // c) world W: every round W reports; RSS with W-1 pending, and once aggregated.
  {
    const std::string run = "bench-mem-world" + std::to_string(o.big_world);
    const auto world = static_cast<std::uint32_t>(o.big_world);
    const int rounds = std::max(1, reports / o.big_world);
    const fs::path dir = work / run;
    ChildCoordinator child(binary, dir, o.timeout);
    std::printf(
        "  c) world %u, %d rounds x %u reports (= %d): RSS with %u reports pending, then "
        "once the set is aggregated; pid %d\n",
        world, rounds, world, rounds * o.big_world, world - 1, static_cast<int>(child.pid()));
    const auto rss_start = child.rss().first;
    const auto t_hello = Clock::now();
    auto conns = connect_ranks(child.address(), run, world, o.timeout);
    const double hello_s = seconds_since(t_hello);
    const auto rss0 = child.rss().first;
    std::printf(
        "    connect + Hello of %u ranks: %.1f s; RSS %.1f MiB before, %.1f MiB after "
        "(%.0f B per connected rank)\n",
        world, hello_s, mib(rss_start), mib(rss0),
        (static_cast<double>(rss0) - static_cast<double>(rss_start)) / world);
    std::vector<Conn*> all, others;
    for (auto& c : conns) all.push_back(c.get());
    others.assign(all.begin(), all.end() - 1);
    std::printf("    %6s %8s %18s %10s %18s %10s %8s\n", "round", "reports", "RSS pending MiB",
                "vs start", "RSS aggregated MiB", "vs start", "s");
    const auto t0 = Clock::now();
    std::vector<double> pending_growth;
    for (int round = 0; round < rounds; ++round) {
      const int epoch = round + 1;
      const auto before = child.rss().first;
      for (std::uint32_t r = 0; r + 1 < world; ++r) send_report(*all[r], epoch, r);
      for (const Arrival& a :
           collect_one_each(others, o.timeout, run + " epoch " + std::to_string(epoch)))
        report_detail(a.ack, run + " epoch " + std::to_string(epoch));
      const auto pending = child.rss().first;
      send_report(*all.back(), epoch, world - 1);
      const json d = report_detail(all.back()->read_ack(run + " epoch " + std::to_string(epoch)),
                                   run + " epoch " + std::to_string(epoch));
      if (!is_aggregated(d))
        throw std::runtime_error(run + " epoch " + std::to_string(epoch) + ": not aggregated");
      const auto aggregated = child.rss().first;
      pending_growth.push_back(static_cast<double>(pending) - static_cast<double>(before));
      std::printf(
          "    %6d %8d %18.1f %+10.0f %18.1f %+10.0f %8.1f\n", epoch, (round + 1) * o.big_world,
          mib(pending), (static_cast<double>(pending) - static_cast<double>(rss0)) / 1024,
          mib(aggregated), (static_cast<double>(aggregated) - static_cast<double>(rss0)) / 1024,
          seconds_since(t0));
    }
    const auto rss_end = child.rss().first;
    const std::uint64_t disk = size_of(dir / run / "metrics.jsonl");
    std::printf(
        "    (\"vs start\" in KiB.) round 1: %.0f B per pending report; after %d rounds the "
        "RSS is %.0f KiB above the start, of which the %d metrics lines are %.0f KiB on "
        "disk\n",
        pending_growth.front() / (world - 1), rounds,
        (static_cast<double>(rss_end) - static_cast<double>(rss0)) / 1024, rounds,
        static_cast<double>(disk) / 1024);
    std::printf(
        "    glibc keeps freed memory for reuse, so released reports show as later rounds "
        "not growing past round 1, rather than as a falling RSS\n");
    conns.clear();
  }
}

std::string load_average() {
  return trim(read_text("/proc/loadavg"));
}

bool wants(const Options& o, const std::string& what) {
  return ("," + o.only + ",").find("," + what + ",") != std::string::npos;
}

int run(const Options& o) {
  std::signal(SIGPIPE, SIG_IGN);
  for (const std::string& part : [&] {
         std::vector<std::string> parts;
         std::stringstream s(o.only);
         for (std::string p; std::getline(s, p, ',');) parts.push_back(p);
         return parts;
       }())
    if (part != "fanin" && part != "ingest" && part != "memory")
      throw fer::InputError("--only: unknown part '" + part + "' (fanin, ingest, memory)");
  if (o.ranks < 2) throw fer::InputError("--ranks must be at least 2");
  if (o.big_world < 2) throw fer::InputError("--big-world must be at least 2");

  const fs::path base = o.dir.empty() ? fs::temp_directory_path() : fs::path(o.dir);
  fs::create_directories(base);
  std::string templ = (base / "fer-bench-coord-XXXXXX").string();
  if (!::mkdtemp(templ.data()))
    throw std::runtime_error(templ + ": mkdtemp: " + std::strerror(errno));
  const fs::path work = templ;
  struct Cleanup {
    fs::path dir;
    bool keep;
    ~Cleanup() {
      std::error_code ec;
      if (!keep) fs::remove_all(dir, ec);
    }
  } cleanup{work, o.keep_dir};

  utsname u{};
  ::uname(&u);
  print_rule();
  std::printf("fer-bench-coordinator (fer %s) — figures, not a test\n", FER_VERSION);
  std::printf("machine: %ld cores (nproc), %s, Linux %s; load average %s\n",
              ::sysconf(_SC_NPROCESSORS_ONLN), cpu_model().c_str(), u.release,
              load_average().c_str());
  std::printf("work directory: %s%s\n", work.c_str(),
              o.keep_dir ? " (kept)" : " (removed at the end)");
  const auto fs_ms = fsync_reference(work, 100);
  std::printf(
      "disk floor: append 300 B + fsync in that directory: p50 %.2f ms, p90 %.2f ms, max %.2f "
      "ms (100 times): every acknowledged report pays at least one\n",
      percentile(fs_ms, 0.5), percentile(fs_ms, 0.9),
      *std::max_element(fs_ms.begin(), fs_ms.end()));

  // The server for parts 1 and 2: in this process, or the one named.
  std::unique_ptr<coord::CoordinatorServer> server;
  Address address;
  std::string suffix;
  if (o.address.empty()) {
    coord::CoordinatorOptions options;
    options.listen_address = "127.0.0.1";
    options.port = 0;
    options.http_port = -1;
    options.checkpoints_dir = work / "checkpoints";
    options.quiet = true;
    server = std::make_unique<coord::CoordinatorServer>(options);
    server->start_in_thread();
    address.port = server->port();
    std::printf(
        "server: CoordinatorServer in this process on %s (its own thread), checkpoints %s\n",
        address.text().c_str(), options.checkpoints_dir.c_str());
  } else {
    address = parse_address(o.address);
    suffix = "-" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
    std::printf("server: external, %s (run ids get the suffix %s so that they are fresh)\n",
                address.text().c_str(), suffix.c_str());
  }
  std::fflush(stdout);
  if (wants(o, "fanin")) {
    print_rule();
    bench_fanin(o, address, "bench-fanin" + suffix);
    std::fflush(stdout);
  }
  if (wants(o, "ingest")) {
    print_rule();
    bench_ingest(o, address, "bench-ingest" + suffix, work);
    std::fflush(stdout);
  }
  if (server) server->stop();
  server.reset();
  if (wants(o, "memory")) {
    print_rule();
    bench_memory(o, work);
  }
  print_rule();
  std::printf("load average at the end: %s\n", load_average().c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "fer-bench-coordinator: fan-in latency, checkpoint ingest throughput and server "
      "memory of the coordinator (prints figures; not a test)"};
  app.add_option("--ranks", o.ranks, "Simulated ranks for the fan-in (default 512)")
      ->check(CLI::Range(2, 60000));
  app.add_option("--rounds", o.rounds, "Fan-in rounds, one epoch each (default 50)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--burst-rounds", o.burst_rounds, "Burst rounds (default: --rounds)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--checkpoint-mb", o.checkpoint_mb, "Checkpoint size in MiB (default 1024)")
      ->check(CLI::PositiveNumber);
  app.add_option("--repeats", o.repeats, "Checkpoint uploads (default 3)")
      ->check(CLI::PositiveNumber);
  app.add_option("--reports", o.reports, "Reports per memory case (default 10000)")
      ->check(CLI::PositiveNumber);
  app.add_option("--big-world", o.big_world, "World size of memory case c (default 1000)")
      ->check(CLI::Range(2, 60000));
  app.add_option("--address", o.address,
                 "HOST:PORT of a running coordinator for parts 1 and 2 "
                 "(default: one started in this process)");
  app.add_option("--dir", o.dir,
                 "Where the temporary work directory goes (default: TMPDIR or /tmp)");
  app.add_option("--coordinator", o.coordinator,
                 "fer-coordinator binary for part 3 (default: beside this one)");
  app.add_option("--only", o.only, "Comma-separated parts: fanin,ingest,memory (default all)");
  app.add_option("--timeout", o.timeout, "Seconds any socket wait may take (default 30)")
      ->check(CLI::PositiveNumber);
  app.add_option("--checkpoint-ack-timeout", o.checkpoint_ack_timeout,
                 "Seconds to wait for a checkpoint's Ack after its last byte (default 300)")
      ->check(CLI::PositiveNumber);
  app.add_flag("--keep-dir", o.keep_dir, "Keep the work directory");
  app.add_option("--seed", o.seed, "Random seed (default 1)");
  CLI11_PARSE(app, argc, argv);
  return fer::run_tool("fer-bench-coordinator", [&] { return run(o); });
}
