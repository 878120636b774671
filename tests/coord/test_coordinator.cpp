// The coordinator service over real TCP on loopback: an in-process CoordinatorServer
// on a free port, CoordinatorClient instances and raw protocol peers talking to it,
// and the files it writes under a temporary checkpoints directory.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio.hpp>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "common/error.hpp"
#include "common/sha256.hpp"
#include "coord/coordinator_client.hpp"
#include "coord/coordinator_server.hpp"
#include "coord/protocol.hpp"
#include "metrics/confusion_matrix.hpp"
#include "test_support.hpp"

namespace fer::coord {
namespace {
namespace fs = std::filesystem;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using nlohmann::json;
using test::TempDir;

CoordinatorOptions options_in(const fs::path& dir) {
  CoordinatorOptions o;
  o.port = 0;
  o.checkpoints_dir = dir;
  o.quiet = true;
  return o;
}

const std::string kRunSecret = "test-run-secret-0123456789abcdef";

Hello hello_for(const std::string& run, int rank, int world) {
  Hello h;
  h.seq = 1;
  h.run = run;
  h.rank = static_cast<std::uint32_t>(rank);
  h.world_size = static_cast<std::uint32_t>(world);
  h.host = "test";
  h.pid = 1;
  h.config_hash = "cfg";
  h.run_secret = kRunSecret;
  h.resume_epoch = rank == 0 ? 0 : -1;  // rank 0 starts the run
  return h;
}

ClientOptions client_for(const CoordinatorServer& server, const std::string& run, int rank,
                         int world) {
  ClientOptions o;
  o.port = server.port();
  o.hello = hello_for(run, rank, world);
  o.io_timeout_seconds = 10;
  return o;
}

// A protocol peer with blocking sockets and a 10 s receive deadline: frames are
// written by hand, so the tests can send what CoordinatorClient never would.
class RawPeer {
 public:
  explicit RawPeer(std::uint16_t port) : socket_(io_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
    timeval deadline{10, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &deadline, sizeof deadline);
  }
  void send_bytes(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  void send(const Message& m) { send_bytes(encode(m)); }
  // The next Ack, or nullopt when the server closed the connection (a 10 s silence
  // fails the test instead: that is neither an answer nor a close).
  std::optional<Ack> receive() {
    while (true) {
      if (auto m = decoder_.next()) return std::get<Ack>(*m);
      char buffer[65536];
      boost::system::error_code ec;
      const std::size_t n = socket_.read_some(asio::buffer(buffer), ec);
      if (ec == asio::error::eof || ec == asio::error::connection_reset) return std::nullopt;
      if (ec) {
        ADD_FAILURE() << "no answer and no close within 10 s: " << ec.message();
        return std::nullopt;
      }
      decoder_.feed(std::string_view(buffer, n));
    }
  }
  Ack hello(const Hello& h) {
    send(h);
    auto ack = receive();
    EXPECT_TRUE(ack.has_value()) << "no answer to Hello";
    return ack.value_or(Ack{});
  }
  // True once the server has closed the connection (after any answers it sent).
  bool closed_by_server() {
    while (receive()) {
    }
    return !::testing::Test::HasFailure();
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  FrameDecoder decoder_;
};

EvalReport report_of(int rank, int epoch, const ConfusionMatrix& m, double loss,
                     std::uint64_t seq) {
  EvalReport r;
  r.seq = seq;
  r.split = "val";
  r.epoch = epoch;
  r.rank = static_cast<std::uint32_t>(rank);
  r.classes = static_cast<std::uint32_t>(m.classes());
  r.counts = m.counts();
  r.loss_sum = loss;
  r.samples = m.total();
  return r;
}

std::vector<json> metrics_lines(const fs::path& file) {
  std::vector<json> lines;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(json::parse(line));
  return lines;
}

// Random (truth, predicted) pairs, as one rank's share of an evaluation.
std::vector<std::pair<int, int>> random_predictions(std::mt19937& rng, int n) {
  std::uniform_int_distribution<int> cls(0, 6), agree(0, 9);
  std::vector<std::pair<int, int>> pairs;
  for (int i = 0; i < n; ++i) {
    const int truth = cls(rng);
    pairs.emplace_back(truth, agree(rng) < 6 ? truth : cls(rng));
  }
  return pairs;
}

TEST(Coordinator, SumsEveryRanksCountsIntoTheMetricsOfOneProcess) {
  TempDir dir;
  CoordinatorServer server(options_in(dir.path()));
  server.start_in_thread();
  constexpr int kRanks = 4;
  std::mt19937 rng(7);
  ConfusionMatrix whole(7);  // what one process evaluating every image would count
  double whole_loss = 0;
  std::vector<std::unique_ptr<CoordinatorClient>> clients;
  for (int r = 0; r < kRanks; ++r) {
    clients.push_back(std::make_unique<CoordinatorClient>(client_for(server, "exact", r, kRanks)));
    ConfusionMatrix mine(7);
    for (auto [truth, predicted] : random_predictions(rng, 100 + 37 * r)) {
      mine.add(truth, predicted);
      whole.add(truth, predicted);
    }
    const double loss = 1.25 * (r + 1);
    whole_loss += loss;
    EvalReport report = report_of(r, 1, mine, loss, 0);
    if (r == 0) report.extra_json = R"({"train_loss": 0.5, "lr": 0.01})";
    clients.back()->report_eval(report);
  }
  for (auto& c : clients) ASSERT_TRUE(c->flush(20).complete);
  const auto lines = metrics_lines(dir / "exact" / "metrics.jsonl");
  ASSERT_EQ(lines.size(), 1u);
  const json& line = lines[0];
  EXPECT_EQ(line["epoch"], 1);
  EXPECT_EQ(line["ranks"], kRanks);
  EXPECT_EQ(line["val_confusion_matrix"].get<std::vector<std::int64_t>>(), whole.counts());
  EXPECT_EQ(line["val_images"], whole.total());
  EXPECT_DOUBLE_EQ(line["val_accuracy"].get<double>(), whole.accuracy());
  EXPECT_DOUBLE_EQ(line["val_loss"].get<double>(), whole_loss / static_cast<double>(whole.total()));
  EXPECT_DOUBLE_EQ(line["val_macro_f1"].get<double>(), whole.macro_f1());
  EXPECT_DOUBLE_EQ(line["val_weighted_f1"].get<double>(), whole.weighted_f1());
  for (int c = 0; c < 7; ++c) {
    const ClassMetrics m = whole.class_metrics(c);
    EXPECT_DOUBLE_EQ(line["val_per_class"][c]["precision"].get<double>(), m.precision);
    EXPECT_DOUBLE_EQ(line["val_per_class"][c]["recall"].get<double>(), m.recall);
    EXPECT_EQ(line["val_per_class"][c]["support"], m.support);
  }
  EXPECT_EQ(line["val_per_class"][1]["class"], "disgust");
  EXPECT_DOUBLE_EQ(line["train_loss"].get<double>(), 0.5) << "rank 0's training figures";
}

TEST(Coordinator, ManyRanksReportingAtOnceEachEpochCountedOnce) {
  TempDir dir;
  CoordinatorServer server(options_in(dir.path()));
  server.start_in_thread();
  constexpr int kRanks = 48, kEpochs = 3;
  std::vector<std::thread> ranks;
  std::atomic<int> failures{0};
  for (int r = 0; r < kRanks; ++r)
    ranks.emplace_back([&, r] {
      CoordinatorClient client(client_for(server, "crowd", r, kRanks));
      for (int e = 1; e <= kEpochs; ++e) {
        ConfusionMatrix m(7);
        m.add(r % 7, (r + e) % 7, 1 + r);
        client.report_eval(report_of(r, e, m, 0.5, 0));
      }
      if (!client.flush(60).complete) ++failures;
    });
  for (auto& t : ranks) t.join();
  EXPECT_EQ(failures, 0);
  const auto lines = metrics_lines(dir / "crowd" / "metrics.jsonl");
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kEpochs));
  for (int e = 1; e <= kEpochs; ++e) {
    const json& line = lines[e - 1];
    EXPECT_EQ(line["epoch"], e);
    EXPECT_EQ(line["ranks"], kRanks);
    EXPECT_EQ(line["val_images"], kRanks * (kRanks + 1) / 2);
  }
  EXPECT_EQ(server.status()["runs"][0]["pending_evals"].size(), 0u);
}

TEST(Coordinator, DuplicateReportIsIdempotentADifferentOneIsRejected) {
  TempDir dir;
  CoordinatorServer server(options_in(dir.path()));
  server.start_in_thread();
  RawPeer peer(server.port());
  ASSERT_EQ(peer.hello(hello_for("dup", 0, 2)).status, AckStatus::kOk);
  ConfusionMatrix m(7);
  m.add(1, 1, 5);
  peer.send(report_of(0, 1, m, 1.0, 2));
  EXPECT_EQ(peer.receive()->status, AckStatus::kOk);
  peer.send(report_of(0, 1, m, 1.0, 3));  // a resend after a reconnect
  const Ack again = *peer.receive();
  EXPECT_EQ(again.status, AckStatus::kOk);
  EXPECT_TRUE(json::parse(again.detail_json).value("duplicate", false));
  m.add(2, 2);
  peer.send(report_of(0, 1, m, 1.0, 4));
  const Ack conflict = *peer.receive();
  EXPECT_EQ(conflict.status, AckStatus::kRejected);
  EXPECT_NE(conflict.message.find("rank 0, val epoch 1"), std::string::npos) << conflict.message;
  const json run = server.status()["runs"][0];
  ASSERT_EQ(run["pending_evals"].size(), 1u);
  EXPECT_EQ(run["pending_evals"][0]["missing_ranks"], json::array({1}));
}

TEST(Coordinator, AMissingRankIsReportedAfterTheDeadline) {
  TempDir dir;
  CoordinatorOptions o = options_in(dir.path());
  o.run.eval_deadline_seconds = 0.5;
  CoordinatorServer server(o);
  server.start_in_thread();
  CoordinatorClient rank0(client_for(server, "late", 0, 3));
  ConfusionMatrix m(7);
  m.add(0, 0);
  rank0.report_eval(report_of(0, 1, m, 0.1, 0));
  ASSERT_TRUE(rank0.flush(10).complete);
  EXPECT_FALSE(server.status()["runs"][0]["pending_evals"][0]["overdue"].get<bool>());
  std::this_thread::sleep_for(std::chrono::milliseconds(1600));  // the deadline, and a tick
  const json pending = server.status()["runs"][0]["pending_evals"][0];
  EXPECT_TRUE(pending["overdue"].get<bool>());
  EXPECT_EQ(pending["missing_ranks"], json::array({1, 2}));
  EXPECT_FALSE(fs::exists(dir / "late" / "metrics.jsonl") &&
               !metrics_lines(dir / "late" / "metrics.jsonl").empty())
      << "an incomplete set never becomes a metrics line";
}

TEST(Coordinator, ClientReconnectsAfterTheServerDropsItAndResendsWhatWasNotAcknowledged) {
  TempDir dir;
  CoordinatorOptions o = options_in(dir.path());
  o.idle_timeout_seconds = 0.4;  // drops a connection silent this long
  CoordinatorServer server(o);
  server.start_in_thread();
  ClientOptions c = client_for(server, "drop", 0, 1);
  c.heartbeat_seconds = 30;  // so the connection does go silent
  CoordinatorClient client(c);
  ConfusionMatrix m(7);
  m.add(3, 3, 2);
  client.report_eval(report_of(0, 1, m, 0.2, 0));
  ASSERT_TRUE(client.flush(10).complete);
  std::this_thread::sleep_for(std::chrono::milliseconds(900));  // dropped meanwhile
  EXPECT_NE(client.last_error().find("connection lost"), std::string::npos) << client.last_error();
  client.report_eval(report_of(0, 2, m, 0.2, 0));
  const FlushResult flushed = client.flush(10);
  EXPECT_TRUE(flushed.complete) << flushed.last_error;
  EXPECT_EQ(metrics_lines(dir / "drop" / "metrics.jsonl").size(), 2u);
}

TEST(Coordinator, ARestartedCoordinatorKeepsEveryAcknowledgedReport) {
  TempDir dir;
  CoordinatorOptions o = options_in(dir.path());
  std::uint16_t port = 0;
  {
    CoordinatorServer first(o);
    first.start_in_thread();
    port = first.port();
    ClientOptions c = client_for(first, "restart", 1, 2);
    CoordinatorClient rank1(c);
    ConfusionMatrix m(7);
    m.add(4, 4, 9);
    rank1.report_eval(report_of(1, 1, m, 0.9, 0));
    ASSERT_TRUE(rank1.flush(10).complete);  // acknowledged: it must survive
  }  // the coordinator goes away with rank 1's report pending
  o.port = port;
  CoordinatorServer second(o);
  second.start_in_thread();
  EXPECT_EQ(second.status()["runs"][0]["pending_evals"][0]["reported_ranks"], json::array({1}));
  ClientOptions c = client_for(second, "restart", 0, 2);
  c.hello.resume_epoch = -1;  // rank 0 of the running job, reconnecting
  CoordinatorClient rank0(c);
  ConfusionMatrix m(7);
  m.add(4, 5, 1);
  rank0.report_eval(report_of(0, 1, m, 0.1, 0));
  ASSERT_TRUE(rank0.flush(10).complete);
  const auto lines = metrics_lines(dir / "restart" / "metrics.jsonl");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["val_images"], 10);
  EXPECT_EQ(lines[0]["ranks"], 2);
}

std::string sha_of(const std::string& bytes) {
  Sha256 h;
  h.update(bytes.data(), bytes.size());
  return h.hex_digest();
}

TEST(Coordinator, StoresAStreamedCheckpointAndPointsLatestAndBestAtIt) {
  TempDir dir;
  CoordinatorServer server(options_in(dir.path()));
  server.start_in_thread();
  CoordinatorClient client(client_for(server, "ckpt", 0, 1));
  std::string bytes(3 * kCheckpointChunkBytes + 12345, '\0');
  std::mt19937 rng(1);
  for (auto& b : bytes) b = static_cast<char>(rng());
  client.upload_checkpoint(1, 10, bytes, {{"val_accuracy", 0.4}, {"val_loss", 1.5}});
  client.upload_checkpoint(2, 20, bytes.substr(7), {{"val_accuracy", 0.3}, {"val_loss", 1.6}});
  ASSERT_TRUE(client.flush(20).complete);
  EXPECT_TRUE(client.take_problems().empty());
  EXPECT_EQ(test::read_file(dir / "ckpt" / "epoch-0001.pt"), bytes);
  EXPECT_EQ(fs::read_symlink(dir / "ckpt" / "latest.pt"), "epoch-0002.pt");
  EXPECT_EQ(fs::read_symlink(dir / "ckpt" / "best.pt"), "epoch-0001.pt");
  std::ifstream in(dir / "ckpt" / "manifest.json");
  const json manifest = json::parse(in);
  EXPECT_EQ(manifest["checkpoints"][0]["sha256"], sha_of(bytes));
  EXPECT_DOUBLE_EQ(manifest["checkpoints"][1]["metrics"]["val_loss"].get<double>(), 1.6);
  const json best = client.query("best", 10);
  EXPECT_EQ(best["file"], "epoch-0001.pt");
  EXPECT_EQ(best["bytes"], bytes.size());
  EXPECT_EQ(client.query("latest", 10)["epoch"], 2);
  EXPECT_EQ(client.query("status", 10)["run"], "ckpt");
  // The same checkpoint again (a resend after a reconnect) changes nothing.
  const auto before = fs::last_write_time(dir / "ckpt" / "epoch-0001.pt");
  client.upload_checkpoint(1, 10, bytes, {{"val_accuracy", 0.4}});
  ASSERT_TRUE(client.flush(20).complete);
  EXPECT_EQ(fs::last_write_time(dir / "ckpt" / "epoch-0001.pt"), before);
}

TEST(Coordinator, ACheckpointWithAWrongChecksumIsRejectedAndLeavesNoFile) {
  TempDir dir;
  CoordinatorServer server(options_in(dir.path()));
  server.start_in_thread();
  RawPeer peer(server.port());
  ASSERT_EQ(peer.hello(hello_for("bad-upload", 0, 1)).status, AckStatus::kOk);
  const std::string bytes(100000, 'x');
  CheckpointBegin begin;
  begin.seq = 2;
  begin.upload_id = 1;
  begin.epoch = 1;
  begin.size = bytes.size();
  begin.sha256 = sha_of(bytes + "tampered");
  peer.send(begin);
  peer.send(CheckpointChunk{1, 0, std::string_view(bytes).substr(0, 60000)});
  peer.send(CheckpointChunk{1, 60000, std::string_view(bytes).substr(60000)});
  peer.send(CheckpointEnd{1});
  const Ack ack = *peer.receive();
  EXPECT_EQ(ack.seq, 2u);
  EXPECT_EQ(ack.status, AckStatus::kRejected);
  EXPECT_NE(ack.message.find("SHA-256"), std::string::npos) << ack.message;
  for (const auto& entry : fs::directory_iterator(dir / "bad-upload"))
    EXPECT_EQ(entry.path().extension() == ".pt" ||
                  entry.path().filename().string().find(".tmp-") != std::string::npos,
              false)
        << entry.path();
  // A chunk out of order is refused too, and the connection goes on serving.
  begin.seq = 3;
  begin.upload_id = 2;
  begin.sha256 = sha_of(bytes);
  peer.send(begin);
  peer.send(CheckpointChunk{2, 500, std::string_view(bytes).substr(0, 10)});
  const Ack gap = *peer.receive();
  EXPECT_EQ(gap.status, AckStatus::kRejected);
  EXPECT_NE(gap.message.find("expected 0"), std::string::npos) << gap.message;
  peer.send(Query{4, "status"});
  EXPECT_EQ(peer.receive()->status, AckStatus::kOk);
}

TEST(Coordinator, RunIdsThatCouldEscapeTheDirectoryAreRejected) {
  TempDir dir;
  CoordinatorServer server(options_in(dir / "checkpoints"));
  server.start_in_thread();
  for (const std::string run : {"../evil", "..", "/tmp/abs", "a/b", ".hidden", ""}) {
    RawPeer peer(server.port());
    const Ack ack = peer.hello(hello_for(run, 0, 1));
    EXPECT_EQ(ack.status, AckStatus::kRejected) << run;
    EXPECT_NE(ack.message.find("not a valid name"), std::string::npos) << ack.message;
    EXPECT_TRUE(peer.closed_by_server()) << run;
  }
  EXPECT_FALSE(fs::exists(dir / "evil"));
  EXPECT_TRUE(fs::is_empty(dir / "checkpoints"));
}

TEST(Coordinator, ListeningBeyondLoopbackRequiresATokenAndHelloMustCarryIt) {
  TempDir dir;
  CoordinatorOptions open = options_in(dir.path());
  open.listen_address = "0.0.0.0";
  try {
    CoordinatorServer refused(open);
    FAIL() << "a non-loopback coordinator started without a token";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("requires a shared token"), std::string::npos);
  }
  open.token = "x";  // guessable in no time
  try {
    CoordinatorServer refused(open);
    FAIL() << "a non-loopback coordinator started with a 1-character token";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("has 1 characters, at least 16"), std::string::npos)
        << e.what();
  }
  open.token = "s3cret-token-0123456789";
  CoordinatorServer server(open);
  server.start_in_thread();
  {
    RawPeer peer(server.port());
    const Ack ack = peer.hello(hello_for("secure", 0, 1));
    EXPECT_EQ(ack.status, AckStatus::kRejected);
    EXPECT_NE(ack.message.find("token"), std::string::npos);
    EXPECT_TRUE(peer.closed_by_server());
  }
  {
    RawPeer peer(server.port());
    Hello h = hello_for("secure", 0, 1);
    h.token = "s3cret-tokem-0123456789";
    EXPECT_EQ(peer.hello(h).status, AckStatus::kRejected);
  }
  ClientOptions c = client_for(server, "secure", 0, 1);
  c.hello.token = "s3cret-token-0123456789";
  CoordinatorClient client(c);
  EXPECT_TRUE(client.wait_connected(10));
  EXPECT_GE(server.status()["server"]["frames_refused"].get<int>(), 2);
}

TEST(Coordinator, GarbageClosesThatConnectionOnlyAndTheServiceGoesOn) {
  TempDir dir;
  CoordinatorServer server(options_in(dir.path()));
  server.start_in_thread();
  CoordinatorClient good(client_for(server, "steady", 0, 1));
  ASSERT_TRUE(good.wait_connected(10));
  std::string oversized = encode(Query{1, "status"});
  oversized[8] = oversized[9] = oversized[10] = '\xff';  // payload length ~16 MiB
  std::string wrong_version = encode(hello_for("steady", 0, 1));
  wrong_version[4] = 9;
  std::string truncated = encode(hello_for("steady", 0, 1));
  truncated.resize(truncated.size() - 3);
  truncated[8] = static_cast<char>(truncated[8] - 3);  // a consistent but short payload
  const std::string cases[] = {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", oversized, wrong_version,
                               truncated, encode(Query{1, "status"}) /* before Hello */};
  for (const std::string& bytes : cases) {
    RawPeer peer(server.port());
    peer.send_bytes(bytes);
    EXPECT_TRUE(peer.closed_by_server());
  }
  ConfusionMatrix m(7);
  m.add(0, 0);
  good.report_eval(report_of(0, 1, m, 0.0, 0));
  EXPECT_TRUE(good.flush(10).complete) << "the well-behaved client is still served";
  EXPECT_GE(server.status()["server"]["frames_refused"].get<int>(), 5);
}

TEST(Coordinator, APeerOfAnotherProtocolVersionIsToldWhichOneThisSideSpeaks) {
  TempDir dir;
  CoordinatorServer server(options_in(dir.path()));
  server.start_in_thread();
  RawPeer peer(server.port());
  std::string hello = encode(hello_for("versions", 0, 1));
  hello[4] = static_cast<char>(kProtocolVersion + 1);  // a client of the next version
  peer.send_bytes(hello);
  const auto ack = peer.receive();
  ASSERT_TRUE(ack.has_value()) << "closed without a word";
  EXPECT_EQ(ack->status, AckStatus::kRejected);
  EXPECT_EQ(ack->message, "protocol version " + std::to_string(kProtocolVersion + 1) +
                              ", this coordinator speaks " + std::to_string(kProtocolVersion));
  EXPECT_TRUE(peer.closed_by_server());
}

TEST(Coordinator, ResumingDropsLaterEpochsAndRunsStayApart) {
  TempDir dir;
  CoordinatorServer server(options_in(dir.path()));
  server.start_in_thread();
  {
    CoordinatorClient a(client_for(server, "run-a", 0, 1));
    CoordinatorClient b(client_for(server, "run-b", 0, 1));
    ConfusionMatrix m(7);
    m.add(0, 0);
    for (int e = 1; e <= 3; ++e) {
      a.report_eval(report_of(0, e, m, 0.0, 0));
      a.upload_checkpoint(e, e, "bytes of " + std::to_string(e), {{"val_accuracy", 0.1 * e}});
    }
    b.report_eval(report_of(0, 1, m, 0.0, 0));
    ASSERT_TRUE(a.flush(10).complete);
    ASSERT_TRUE(b.flush(10).complete);
  }
  EXPECT_EQ(metrics_lines(dir / "run-a" / "metrics.jsonl").size(), 3u);
  EXPECT_EQ(metrics_lines(dir / "run-b" / "metrics.jsonl").size(), 1u);
  ClientOptions c = client_for(server, "run-a", 0, 1);
  c.hello.resume_epoch = 1;
  {
    // Older than the latest checkpoint (3): refused unless asked for explicitly.
    CoordinatorClient refused(c);
    EXPECT_FALSE(refused.wait_connected(10));
    const auto problems = refused.take_problems();
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_NE(problems[0].find("would delete its checkpoints up to epoch 3"), std::string::npos)
        << problems[0];
    EXPECT_TRUE(fs::exists(dir / "run-a" / "epoch-0003.pt"));
  }
  c.hello.flags = kHelloDropLaterCheckpoints;
  CoordinatorClient resumed(c);
  ASSERT_TRUE(resumed.wait_connected(10));
  EXPECT_EQ(metrics_lines(dir / "run-a" / "metrics.jsonl").size(), 1u);
  EXPECT_FALSE(fs::exists(dir / "run-a" / "epoch-0002.pt"));
  EXPECT_EQ(fs::read_symlink(dir / "run-a" / "latest.pt"), "epoch-0001.pt");
  EXPECT_EQ(metrics_lines(dir / "run-b" / "metrics.jsonl").size(), 1u) << "another run untouched";
  // Epoch 2 again after the resume is a fresh set, not a duplicate.
  ConfusionMatrix m(7);
  m.add(1, 1);
  resumed.report_eval(report_of(0, 2, m, 0.0, 0));
  ASSERT_TRUE(resumed.flush(10).complete);
  EXPECT_EQ(metrics_lines(dir / "run-a" / "metrics.jsonl").size(), 2u);
}

// Every file of a run directory with its SHA-256: what "nothing changed" means.
std::map<std::string, std::string> run_files(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().filename() != ".coordinator.lock")
      files[entry.path().filename().string()] = sha256_file(entry.path());
    else if (entry.is_symlink())
      files[entry.path().filename().string()] = fs::read_symlink(entry.path()).string();
  return files;
}

// A finished run of two epochs with two checkpoints, made through a real client.
void make_finished_run(CoordinatorServer& server, const std::string& run) {
  CoordinatorClient client(client_for(server, run, 0, 1));
  ConfusionMatrix m(7);
  m.add(3, 3, 5);
  for (int e = 1; e <= 2; ++e) {
    client.report_eval(report_of(0, e, m, 0.5, 0));
    client.upload_checkpoint(e, 10 * e, "weights " + std::to_string(e), {{"val_accuracy", 0.5}});
  }
  client.end("");
  ASSERT_TRUE(client.flush(10).complete);
}

TEST(Coordinator, AHelloWithoutTheRunsSecretCannotTouchAFinishedRun) {
  TempDir dir;
  CoordinatorServer server(options_in(dir.path()));
  server.start_in_thread();
  make_finished_run(server, "victim");
  const auto before = run_files(dir / "victim");
  ASSERT_TRUE(before.count("run.secret"));
  // The drill of the issue: rank 0, resume_epoch 0, any config hash, world 1 or 2 —
  // with no secret, a wrong one, or the right length of garbage.
  for (const std::string& secret : {std::string(), std::string("guess"), std::string(32, 'a')})
    for (int world : {1, 2}) {
      RawPeer peer(server.port());
      Hello h = hello_for("victim", 0, world);
      h.run_secret = secret;
      h.config_hash = "anything";
      const Ack ack = peer.hello(h);
      EXPECT_EQ(ack.status, AckStatus::kRejected);
      EXPECT_NE(ack.message.find("run secret"), std::string::npos) << ack.message;
    }
  EXPECT_EQ(run_files(dir / "victim"), before) << "a refused Hello changed the run";
  EXPECT_EQ(server.status()["runs"][0]["state"], "finished");
}

TEST(Coordinator, StartingARunThatHoldsEpochsIsRefusedNotAWipe) {
  TempDir dir;
  CoordinatorServer server(options_in(dir.path()));
  server.start_in_thread();
  make_finished_run(server, "crun");
  const auto before = run_files(dir / "crun");
  // The owner (right secret) starting "crun" from epoch 0, as a trainer with another
  // checkpoint.dir and --resume auto used to.
  RawPeer peer(server.port());
  const Ack ack = peer.hello(hello_for("crun", 0, 1));
  EXPECT_EQ(ack.status, AckStatus::kRejected);
  EXPECT_NE(ack.message.find("already holds epochs up to 2"), std::string::npos) << ack.message;
  EXPECT_EQ(run_files(dir / "crun"), before);
  // Continuing it from its latest checkpoint is fine and drops nothing.
  RawPeer owner(server.port());
  Hello resume = hello_for("crun", 0, 1);
  resume.resume_epoch = 2;
  EXPECT_EQ(owner.hello(resume).status, AckStatus::kOk);
  EXPECT_TRUE(fs::exists(dir / "crun" / "epoch-0002.pt"));
}

TEST(Coordinator, ARunWithoutASecretIsRefusedWithTheWayOut) {
  TempDir dir;
  {
    CoordinatorServer server(options_in(dir.path()));
    server.start_in_thread();
    make_finished_run(server, "old");
  }
  fs::remove(dir / "old" / "run.secret");  // as an older version left it
  CoordinatorServer server(options_in(dir.path()));
  server.start_in_thread();
  RawPeer peer(server.port());
  Hello h = hello_for("old", 0, 1);
  h.resume_epoch = 2;
  const Ack ack = peer.hello(h);
  EXPECT_EQ(ack.status, AckStatus::kRejected);
  EXPECT_NE(ack.message.find("without a run.secret"), std::string::npos) << ack.message;
  EXPECT_FALSE(fs::exists(dir / "old" / "run.secret")) << "nobody adopts an unowned run";
}

TEST(Coordinator, ARunWhoseCoordinatorDiedIsAbortedUntilItsRanksReturn) {
  TempDir dir;
  CoordinatorOptions o = options_in(dir.path());
  std::uint16_t port = 0;
  {
    CoordinatorServer first(o);
    first.start_in_thread();
    port = first.port();
    CoordinatorClient client(client_for(first, "cut", 0, 1));
    ASSERT_TRUE(client.wait_connected(10));
  }  // stopped without the run's end, as a kill would leave it
  o.port = port;
  CoordinatorServer second(o);
  second.start_in_thread();
  const json run = second.status()["runs"][0];
  EXPECT_EQ(run["state"], "aborted");
  EXPECT_NE(run["abort_reason"].get<std::string>().find("stopped before the run ended"),
            std::string::npos);
  ClientOptions c = client_for(second, "cut", 0, 1);
  c.hello.resume_epoch = -1;  // a reconnect of rank 0
  CoordinatorClient back(c);
  ASSERT_TRUE(back.wait_connected(10));
  EXPECT_EQ(second.status()["runs"][0]["state"], "running");
}

TEST(Coordinator, WhatAClientSendsCannotForgeLogLines) {
  TempDir dir;
  CoordinatorServer server(options_in(dir.path()));
  server.start_in_thread();
  testing::internal::CaptureStderr();
  {
    RawPeer peer(server.port());
    const Ack ack = peer.hello(hello_for("x\nfer-coordinator: run y finished\x1b[2J", 0, 1));
    EXPECT_EQ(ack.status, AckStatus::kRejected);
  }
  server.stop();
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("x\\nfer-coordinator: run y finished\\x1b[2J"), std::string::npos) << log;
  EXPECT_EQ(log.find("\nfer-coordinator: run y"), std::string::npos) << "a forged line: " << log;
}

TEST(Coordinator, ASecondCoordinatorCannotServeTheSameRun) {
  TempDir dir;
  CoordinatorServer first(options_in(dir.path()));
  first.start_in_thread();
  CoordinatorClient a(client_for(first, "shared", 0, 1));
  ASSERT_TRUE(a.wait_connected(10));
  CoordinatorServer second(options_in(dir.path()));
  second.start_in_thread();
  RawPeer peer(second.port());
  const Ack ack = peer.hello(hello_for("shared", 0, 1));
  EXPECT_EQ(ack.status, AckStatus::kRejected);
  EXPECT_NE(ack.message.find("another coordinator is serving this run"), std::string::npos)
      << ack.message;
}

TEST(Coordinator, RanksOfOneJobMustAgreeOnConfigurationAndWorldSize) {
  TempDir dir;
  CoordinatorServer server(options_in(dir.path()));
  server.start_in_thread();
  CoordinatorClient rank0(client_for(server, "agree", 0, 2));
  ASSERT_TRUE(rank0.wait_connected(10));
  RawPeer other_config(server.port());
  Hello h = hello_for("agree", 1, 2);
  h.config_hash = "different";
  const Ack config_ack = other_config.hello(h);
  EXPECT_EQ(config_ack.status, AckStatus::kRejected);
  EXPECT_NE(
      config_ack.message.find("rank 1 of run agree has configuration different, rank 0 has cfg"),
      std::string::npos)
      << config_ack.message;
  RawPeer other_world(server.port());
  EXPECT_EQ(other_world.hello(hello_for("agree", 1, 3)).status, AckStatus::kRejected);
  RawPeer impossible(server.port());
  EXPECT_EQ(impossible.hello(hello_for("agree2", 5, 2)).status, AckStatus::kRejected);
}

TEST(Coordinator, AnUnreachableCoordinatorIsReportedNotWaitedForForever) {
  ClientOptions c;
  c.port = 1;  // nothing listens there
  c.hello = hello_for("nowhere", 0, 1);
  CoordinatorClient client(c);
  EXPECT_FALSE(client.wait_connected(1.0));
  EXPECT_NE(client.last_error().find("cannot connect to 127.0.0.1:1"), std::string::npos)
      << client.last_error();
  ConfusionMatrix m(7);
  client.report_eval(report_of(0, 1, m, 0.0, 0));
  const FlushResult flushed = client.flush(0.5);
  EXPECT_FALSE(flushed.complete);
  EXPECT_EQ(flushed.unacknowledged, 1u);
}

}  // namespace
}  // namespace fer::coord
