#include "coord/run_state.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>

#include "common/atomic_output.hpp"
#include "common/error.hpp"
#include "common/failpoint.hpp"
#include "common/sha256.hpp"
#include "common/text.hpp"
#include "metrics/best_metric.hpp"

namespace fer::coord {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr const char* kJournal = "eval-reports.jsonl";

Ack ok(std::uint64_t seq, json detail = json::object()) {
  return {seq, AckStatus::kOk, "", detail.dump()};
}

// Nothing of a run exists yet in `dir` (a lock file alone does not count).
bool run_is_fresh(const fs::path& dir) {
  std::error_code ec;
  for (const char* file : {runs::kStateFile, runs::kManifestFile, "metrics.jsonl"})
    if (fs::exists(dir / file, ec)) return false;
  return true;
}

std::string no_secret_message(const fs::path& dir) {
  return dir.string() + " holds a run without a " + runs::kSecretFile +
         " (made by an older fer-cluster): give it one that its trainer can read too, e.g. "
         "(umask 077; od -An -N16 -tx1 /dev/urandom | tr -d ' \\n' > " +
         (dir / runs::kSecretFile).string() + ")";
}

void check_secret(const std::optional<std::string>& secret, bool fresh, const fs::path& dir,
                  const Hello& hello) {
  if (secret) {
    if (!secrets_match(*secret, hello.run_secret))
      throw InputError("run " + hello.run + ": " +
                       (hello.run_secret.empty() ? "no run secret given" : "wrong run secret") +
                       " (the run's own is in " + (dir / runs::kSecretFile).string() + ")");
    return;
  }
  if (!fresh) throw InputError(no_secret_message(dir));
}

// write(2) until every byte is out; throws naming `path`.
void write_all(int fd, const char* data, std::size_t size, const fs::path& path) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(path.string() + ": write failed: " + std::strerror(errno));
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}
}  // namespace

// ---------------------------------------------------------------------------
// CheckpointUpload
// ---------------------------------------------------------------------------

CheckpointUpload::CheckpointUpload(const CheckpointBegin& begin, fs::path staging,
                                   bool already_stored)
    : begin_(begin), staging_(std::move(staging)), already_stored_(already_stored) {
  if (already_stored_) return;  // chunks are checked and dropped
  fd_ = ::open(staging_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw std::runtime_error(staging_.string() + ": cannot create: " + std::strerror(errno));
}

CheckpointUpload::~CheckpointUpload() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !already_stored_) {
    std::error_code ec;
    fs::remove(staging_, ec);
  }
}

void CheckpointUpload::write(const CheckpointChunk& chunk) {
  if (chunk.offset != received_)
    throw InputError("checkpoint upload " + std::to_string(begin_.upload_id) +
                     ": chunk at offset " + std::to_string(chunk.offset) + ", expected " +
                     std::to_string(received_));
  if (received_ + chunk.data.size() > begin_.size)
    throw InputError("checkpoint upload " + std::to_string(begin_.upload_id) + ": " +
                     std::to_string(received_ + chunk.data.size()) +
                     " bytes, more than the announced " + std::to_string(begin_.size));
  hash_.update(chunk.data.data(), chunk.data.size());
  received_ += chunk.data.size();
  if (already_stored_) return;
  write_all(fd_, chunk.data.data(), chunk.data.size(), staging_);
}

void CheckpointUpload::verify() {
  const std::string what = "checkpoint of epoch " + std::to_string(begin_.epoch);
  if (received_ != begin_.size)
    throw InputError(what + ": received " + std::to_string(received_) + " of " +
                     std::to_string(begin_.size) + " bytes");
  const std::string digest = hash_.hex_digest();
  if (digest != begin_.sha256)
    throw InputError(what + ": SHA-256 of the received bytes is " + digest +
                     ", the sender announced " + begin_.sha256 + " (damaged in transit)");
}

void CheckpointUpload::flush_to_disk() {
  if (already_stored_) return;
  if (::fsync(fd_) != 0)
    throw std::runtime_error(staging_.string() + ": fsync failed: " + std::strerror(errno));
  ::close(fd_);
  fd_ = -1;
}

// ---------------------------------------------------------------------------
// Run
// ---------------------------------------------------------------------------

void Run::authenticate_on_disk(const fs::path& dir, const Hello& hello) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;  // a new run: its first Hello sets the secret
  check_secret(runs::read_run_secret(dir), run_is_fresh(dir), dir, hello);
}

Run::Run(fs::path dir, std::string id, int world_size, RunOptions options)
    : dir_(std::move(dir)),
      id_(std::move(id)),
      options_(std::move(options)),
      lock_(dir_),
      fresh_(run_is_fresh(dir_)),
      secret_(runs::read_run_secret(dir_)),
      store_(dir_, options_.retention),
      aggregator_(world_size) {
  restore();
}

Run::~Run() {
  if (journal_fd_ >= 0) ::close(journal_fd_);
}

void Run::authenticate(const Hello& hello) const {
  check_secret(secret_, fresh_, dir_, hello);
}

void Run::open_journal() {
  if (journal_fd_ >= 0) ::close(journal_fd_);
  const fs::path path = dir_ / kJournal;
  journal_fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (journal_fd_ < 0) throw std::runtime_error(path.string() + ": " + std::strerror(errno));
  journal_dirty_ = false;
}

void Run::sync_journal() {
  if (!journal_dirty_) return;
  if (::fdatasync(journal_fd_) != 0)
    throw std::runtime_error((dir_ / kJournal).string() +
                             ": fdatasync failed: " + std::strerror(errno));
  journal_dirty_ = false;
}

void Run::log(const std::string& line) const {
  if (!options_.quiet)
    std::cout << "fer-coordinator: " << id_ << ": " << printable(line) << std::endl;
}

void Run::warn(const std::string& line) const {
  std::cerr << "fer-coordinator: warning: " << id_ << ": " << printable(line) << std::endl;
}

void Run::restore() {
  if (const auto saved = runs::read_run_status(dir_, /*as_seen_by_reader=*/false)) {
    aggregator_.set_world_size(saved->world_size);
    state_ = saved->state;
    abort_reason_ = saved->abort_reason;
    if (state_ == runs::RunState::kRunning) {
      // Whoever served it before ended without the run's end: until its ranks come
      // back (a restarted coordinator), the run is aborted as far as anyone can tell.
      state_ = runs::RunState::kAborted;
      abort_reason_ = "the coordinator serving it stopped before the run ended";
    }
  }
  metrics_ = store_.read_metrics();
  for (const json& line : metrics_)
    aggregator_.mark_aggregated(line.value("split", "val"), line.value("epoch", 0));
  // Reports acknowledged before a restart, of sets not aggregated yet.
  std::ifstream journal(dir_ / kJournal);
  std::string text;
  json kept = json::array();
  while (std::getline(journal, text)) {
    if (text.empty()) continue;
    try {
      const EvalReport r = report_from_json(json::parse(text));
      if (aggregator_.add(r).outcome == EvalAggregator::Outcome::kPending)
        kept.push_back(report_to_json(r));
    } catch (const std::exception&) {
      // A torn last line was never acknowledged; anything else is skipped with a word.
      if (journal.peek() != EOF) warn("skipping an unreadable line of " + std::string(kJournal));
    }
  }
  // Compacted: only the sets still waiting for ranks.
  std::string compacted;
  for (const json& r : kept) compacted += r.dump() + "\n";
  write_file_atomically(dir_ / kJournal, compacted);
  open_journal();
  save_state();
}

void Run::save_state() {
  runs::write_run_status(dir_, id_, {aggregator_.world_size(), state_, abort_reason_});
}

void Run::forget_after(int epoch) {
  store_.forget_after(epoch);
  aggregator_.forget_after(epoch);
  json kept = json::array();
  for (const json& line : metrics_)
    if (line.value("epoch", 0) <= epoch) kept.push_back(line);
  metrics_ = kept;
  store_.rewrite_metrics(metrics_);
  std::string journal;
  std::ifstream in(dir_ / kJournal);
  for (std::string text; std::getline(in, text);) {
    try {
      if (!text.empty() && json::parse(text).value("epoch", 0) <= epoch) journal += text + "\n";
    } catch (const json::exception&) {
    }
  }
  write_file_atomically(dir_ / kJournal, journal);
  open_journal();
}

Ack Run::hello(const Hello& hello, int connection) {
  authenticate(hello);  // before anything about the run is said or changed
  if (!hello.best_metric.empty() && !find_choice<BestMetric>(hello.best_metric))
    throw InputError("best metric '" + hello.best_metric.substr(0, 40) + "' is not one of " +
                     choice_list<BestMetric>());
  if (hello.world_size == 0 || hello.world_size > 65536 || hello.rank >= hello.world_size)
    return {hello.seq, AckStatus::kRejected,
            "rank " + std::to_string(hello.rank) + " of a world of " +
                std::to_string(hello.world_size) + " is impossible",
            ""};
  for (const auto& [rank, info] : ranks_) {
    if (info.connection < 0 || rank == static_cast<int>(hello.rank)) continue;
    if (static_cast<std::uint32_t>(aggregator_.world_size()) != hello.world_size)
      return {hello.seq, AckStatus::kRejected,
              "run " + id_ + " has " + std::to_string(aggregator_.world_size()) +
                  " ranks connected as one job; rank " + std::to_string(hello.rank) +
                  " says the world has " + std::to_string(hello.world_size),
              ""};
    if (info.config_hash != hello.config_hash)
      return {hello.seq, AckStatus::kRejected,
              "rank " + std::to_string(hello.rank) + " of run " + id_ + " has configuration " +
                  hello.config_hash + ", rank " + std::to_string(rank) + " has " + info.config_hash,
              ""};
  }
  check_no_silent_loss(hello);
  if (!secret_) {
    // A new run: the first Hello (whichever rank comes first) gives it its secret;
    // every later one must carry the same.
    runs::write_run_secret(dir_, hello.run_secret);  // InputError when too short
    secret_ = hello.run_secret;
  }
  bool changed = false;  // coordinator.json is rewritten (2 fsyncs) only when it must be
  if (static_cast<int>(hello.world_size) != aggregator_.world_size()) {
    log("world size " + std::to_string(aggregator_.world_size()) + " -> " +
        std::to_string(hello.world_size));
    aggregator_.set_world_size(static_cast<int>(hello.world_size));
    changed = true;
  }
  if (hello.resume_epoch > 0) {  // a fresh start (0) has nothing later to forget
    log("resuming after epoch " + std::to_string(hello.resume_epoch) +
        ": later metrics and checkpoints are dropped");
    forget_after(hello.resume_epoch);
  }
  if (hello.rank == 0 && !hello.run_config.empty())
    store_.write_text("config.yaml", hello.run_config);
  if (hello.rank == 0 && hello.keep_last > 0) {
    // The run's own retention, not this server's defaults (--keep-last, …).
    const RetentionPolicy wanted{hello.keep_last, std::max(1, hello.keep_best),
                                 hello.best_metric.empty()
                                     ? std::string(name_of(BestMetric::kValAccuracy))
                                     : hello.best_metric};
    if (wanted.keep_last != store_.policy().keep_last ||
        wanted.keep_best != store_.policy().keep_best ||
        wanted.best_metric != store_.policy().best_metric)
      log("retention from the run: keep_last " + std::to_string(wanted.keep_last) + ", keep_best " +
          std::to_string(wanted.keep_best) + ", best by " + wanted.best_metric);
    store_.set_policy(wanted);
  }
  RankInfo& info = ranks_[static_cast<int>(hello.rank)];
  info.host = hello.host;
  info.pid = hello.pid;
  info.config_hash = hello.config_hash;
  info.connection = connection;
  info.last_seen = SteadyClock::now();
  if (state_ != runs::RunState::kRunning && (hello.resume_epoch >= 0 || hello.rank == 0)) {
    state_ = runs::RunState::kRunning;
    abort_reason_.clear();
    changed = true;
  }
  if (changed) save_state();
  const CheckpointRecord* latest =
      store_.checkpoints().empty() ? nullptr : &store_.checkpoints().back();
  return ok(hello.seq, {{"protocol", kProtocolVersion},
                        {"server", std::string("fer-coordinator ") + FER_VERSION},
                        {"run", id_},
                        {"metrics_lines", metrics_.size()},
                        {"latest_epoch", latest ? latest->epoch : 0}});
}

void Run::check_no_silent_loss(const Hello& hello) const {
  if (hello.rank != 0 || hello.resume_epoch < 0) return;
  int latest_checkpoint = 0, latest_metrics = 0;
  if (!store_.checkpoints().empty()) latest_checkpoint = store_.checkpoints().back().epoch;
  for (const json& line : metrics_)
    latest_metrics = std::max(latest_metrics, line.value("epoch", 0));
  const std::string where = id_ + " (" + dir_.string() + ")";
  if (hello.resume_epoch == 0 && std::max(latest_checkpoint, latest_metrics) > 0)
    throw InputError(
        "run " + where + " already holds epochs up to " +
        std::to_string(std::max(latest_checkpoint, latest_metrics)) +
        (latest_checkpoint > 0
             ? " (latest checkpoint: epoch " + std::to_string(latest_checkpoint) + ")"
             : std::string()) +
        "; starting it again would delete them: continue it with --resume auto, or choose "
        "another --run");
  if (hello.resume_epoch > 0 && hello.resume_epoch < latest_checkpoint &&
      !(hello.flags & kHelloDropLaterCheckpoints))
    throw InputError(
        "run " + where + ": resuming after epoch " + std::to_string(hello.resume_epoch) +
        " would delete its checkpoints up to epoch " + std::to_string(latest_checkpoint) +
        ": resume from its latest (--resume auto), or pass --drop-later-epochs");
}

void Run::heartbeat(const Heartbeat& beat) {
  auto it = ranks_.find(static_cast<int>(beat.rank));
  if (it == ranks_.end()) return;
  it->second.last_seen = SteadyClock::now();
  it->second.epoch = beat.epoch;
  it->second.step = beat.step;
}

Ack Run::report(const EvalReport& report) {
  if (auto it = ranks_.find(static_cast<int>(report.rank)); it != ranks_.end())
    it->second.last_seen = SteadyClock::now();
  const auto result = aggregator_.add(report);  // InputError: rejected by the caller
  using Outcome = EvalAggregator::Outcome;
  if (result.outcome == Outcome::kDuplicate || result.outcome == Outcome::kAggregated)
    return ok(report.seq, {{"duplicate", true}});
  if (result.outcome == Outcome::kPending) {
    // Durable before acknowledged (a restart must not lose this rank's counts): the
    // server holds the Ack until sync_journal().
    const std::string line = report_to_json(report).dump() + "\n";
    write_all(journal_fd_, line.data(), line.size(), dir_ / kJournal);
    journal_dirty_ = true;
    return ok(report.seq, {{"aggregated", false}});
  }
  const json line = metrics_line(*result.summary, options_.class_names);
  store_.append_metrics(line);  // fsynced: the set's reports are durable in it
  metrics_.push_back(line);
  // Nothing waits for other ranks: the journal holds only aggregated sets, which a
  // restart would skip anyway. Emptied, it stays small for the whole run.
  if (aggregator_.pending_reports() == 0 && ::ftruncate(journal_fd_, 0) == 0)
    journal_dirty_ = false;
  const std::string& split = result.summary->split;
  char summary[256];
  std::snprintf(summary, sizeof summary,
                "%s epoch %d: accuracy %.2f%%, loss %.4f, macro F1 %.3f over %lld images from %d "
                "ranks",
                split.c_str(), result.summary->epoch, 100 * line.value(split + "_accuracy", 0.0),
                line.value(split + "_loss", 0.0), line.value(split + "_macro_f1", 0.0),
                static_cast<long long>(result.summary->images), result.summary->ranks);
  log(summary);
  return ok(report.seq, {{"aggregated", true}, {"metrics", line}});
}

std::unique_ptr<CheckpointUpload> Run::begin_upload(const CheckpointBegin& begin) {
  if (begin.epoch < 0) throw InputError("checkpoint upload: negative epoch");
  if (begin.sha256.size() != 64 ||
      begin.sha256.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw InputError("checkpoint upload: '" + begin.sha256.substr(0, 80) +
                     "' is not a lower-case hex SHA-256");
  json metrics;
  try {
    metrics = begin.metrics_json.empty() ? json::object() : json::parse(begin.metrics_json);
  } catch (const json::exception&) {
    throw InputError("checkpoint upload: metrics are not JSON");
  }
  if (!metrics.is_object()) throw InputError("checkpoint upload: metrics must be a JSON object");
  const CheckpointRecord* existing = store_.find_epoch(begin.epoch);
  const bool already =
      existing && existing->sha256 == begin.sha256 && existing->bytes == begin.size;
  return std::make_unique<CheckpointUpload>(
      begin, store_.staging_path("upload-" + std::to_string(begin.upload_id)), already);
}

Ack Run::finish_upload(CheckpointUpload& upload) {
  const CheckpointBegin& b = upload.begin();
  if (upload.already_stored()) return ok(b.seq, {{"duplicate", true}});
  const json metrics = b.metrics_json.empty() ? json::object() : json::parse(b.metrics_json);
  failpoint("commit", 0, b.epoch);  // the embedded coordinator lives in rank 0
  const CheckpointRecord record =
      store_.commit_staged(b.epoch, b.step, upload.staging(), b.size, b.sha256, metrics);
  upload.release();
  log("stored " + record.file + " (" + std::to_string(record.bytes) + " bytes, sha256 " +
      record.sha256.substr(0, 12) + "…)" +
      (store_.best() && store_.best()->filename() == record.file ? ", best so far" : ""));
  return ok(b.seq, {{"stored", checkpoint_json(record)}});
}

json Run::checkpoint_json(const CheckpointRecord& r) const {
  return {{"file", r.file},   {"path", (dir_ / r.file).string()},
          {"epoch", r.epoch}, {"step", r.step},
          {"bytes", r.bytes}, {"sha256", r.sha256},
          {"time", r.time},   {"metrics", r.metrics}};
}

Ack Run::query(const Query& query) const {
  if (query.what == "status") return ok(query.seq, status());
  // Small, for the ranks' stall watch every few seconds: no metrics history.
  if (query.what == "ranks")
    return ok(query.seq, {{"world_size", aggregator_.world_size()}, {"ranks", ranks_json()}});
  if (query.what == "latest" || query.what == "best") {
    const auto path = query.what == "latest" ? store_.latest() : store_.best();
    for (const auto& r : store_.checkpoints())
      if (path && r.file == path->filename().string()) return ok(query.seq, checkpoint_json(r));
    return ok(query.seq, json(nullptr));
  }
  return {query.seq, AckStatus::kRejected,
          "unknown query '" + query.what.substr(0, 64) + "' (status, ranks, latest, best)", ""};
}

Ack Run::abort(const Abort& abort) {
  if (abort.reason.empty()) {
    state_ = runs::RunState::kFinished;
    log("finished");
  } else {
    state_ = runs::RunState::kAborted;
    abort_reason_ = "rank " + std::to_string(abort.rank) + ": " + abort.reason.substr(0, 2000);
    warn("aborted by " + abort_reason_);
  }
  save_state();
  return ok(abort.seq);
}

void Run::disconnected(int rank, int connection) {
  auto it = ranks_.find(rank);
  if (it != ranks_.end() && it->second.connection == connection) it->second.connection = -1;
}

void Run::check_deadlines() {
  for (const PendingEval& p : aggregator_.newly_overdue(options_.eval_deadline_seconds)) {
    std::string missing, have;
    for (int r : p.missing_ranks) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
    for (int r : p.reported_ranks) have += (have.empty() ? "" : ", ") + std::to_string(r);
    warn(p.split + " epoch " + std::to_string(p.epoch) + ": no report from rank(s) " + missing +
         " " + std::to_string(static_cast<int>(options_.eval_deadline_seconds)) +
         " s after the first (reported: " + have + ")");
  }
}

json Run::ranks_json() const {
  const auto now = SteadyClock::now();
  json ranks = json::array();
  for (const auto& [rank, info] : ranks_)
    ranks.push_back(
        {{"rank", rank},
         {"host", info.host},
         {"pid", info.pid},
         {"connected", info.connection >= 0},
         {"heartbeat_age_seconds", std::chrono::duration<double>(now - info.last_seen).count()},
         {"epoch", info.epoch},
         {"step", info.step}});
  return ranks;
}

json Run::status() const {
  const auto now = SteadyClock::now();
  const json ranks = ranks_json();
  int epoch = 0;
  for (const auto& [rank, info] : ranks_) epoch = std::max(epoch, info.epoch);
  for (const json& line : metrics_) epoch = std::max(epoch, line.value("epoch", 0));
  json pending = json::array();
  for (const PendingEval& p : aggregator_.pending(now))
    pending.push_back({{"split", p.split},
                       {"epoch", p.epoch},
                       {"reported_ranks", p.reported_ranks},
                       {"missing_ranks", p.missing_ranks},
                       {"age_seconds", p.age_seconds},
                       {"overdue", aggregator_.is_overdue(p.split, p.epoch)}});
  json checkpoints = json::array();
  for (const auto& r : store_.checkpoints()) checkpoints.push_back(checkpoint_json(r));
  return {{"run", id_},
          {"world_size", aggregator_.world_size()},
          {"state", runs::run_state_name(state_)},
          {"abort_reason", abort_reason_},
          {"ranks", ranks},
          {"epoch", epoch},
          {"metrics", metrics_},
          {"class_names", options_.class_names},
          {"pending_evals", pending},
          {"checkpoints", checkpoints},
          {"latest", store_.latest() ? store_.latest()->filename().string() : ""},
          {"best", store_.best() ? store_.best()->filename().string() : ""}};
}

}  // namespace fer::coord
