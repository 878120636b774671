#include "runs/run_directory.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <limits>

#include "common/atomic_output.hpp"
#include "common/error.hpp"
#include "common/sha256.hpp"

namespace fer::runs {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr const char* kManifest = kManifestFile;
constexpr const char* kLatest = kLatestPointer;
constexpr const char* kBest = kBestPointer;
}  // namespace

double CheckpointRecord::metric(const std::string& name) const {
  const auto it = metrics.find(name);
  return it != metrics.end() && it->is_number() ? it->get<double>()
                                                : std::numeric_limits<double>::quiet_NaN();
}

RunDirectory::RunDirectory(fs::path dir, int keep_last)
    : RunDirectory(std::move(dir), RetentionPolicy{keep_last, 1, "val_accuracy"}) {}

RunDirectory::RunDirectory(fs::path dir, RetentionPolicy policy)
    : dir_(std::move(dir)), policy_(std::move(policy)) {
  policy_.keep_last = std::max(1, policy_.keep_last);
  policy_.keep_best = std::max(1, policy_.keep_best);
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw InputError(dir_.string() + ": cannot create run directory: " + ec.message());
  remove_abandoned_temporaries(dir_);  // checkpoints half-written by a killed run
  load_manifest();
}

RunDirectory::RunDirectory(fs::path dir, RetentionPolicy policy, ReadOnly)
    : dir_(std::move(dir)), policy_(std::move(policy)) {
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) throw InputError(dir_.string() + ": no such run directory");
  load_manifest();
}

void RunDirectory::set_policy(RetentionPolicy policy) {
  policy.keep_last = std::max(1, policy.keep_last);
  policy.keep_best = std::max(1, policy.keep_best);
  if (policy.keep_last == policy_.keep_last && policy.keep_best == policy_.keep_best &&
      policy.best_metric == policy_.best_metric)
    return;
  policy_ = std::move(policy);
  choose_best();
  if (records_.empty()) return save_manifest();
  choose_best_and_point();
}

RunDirectory RunDirectory::open_for_reading(fs::path dir) {
  return RunDirectory(std::move(dir), RetentionPolicy{}, ReadOnly{});
}

void RunDirectory::load_manifest() {
  const fs::path manifest = dir_ / kManifest;
  if (!fs::exists(manifest)) return;
  try {
    std::ifstream in(manifest);
    const json doc = json::parse(in);
    for (const json& entry : doc.at("checkpoints")) {
      CheckpointRecord r{entry.at("file").get<std::string>(),
                         entry.at("epoch").get<int>(),
                         entry.at("step").get<std::int64_t>(),
                         entry.at("bytes").get<std::uint64_t>(),
                         entry.at("sha256").get<std::string>(),
                         entry.value("metrics", json::object()),
                         entry.value("time", "")};
      // Manifests of version 1 kept two metrics beside the entry instead.
      for (const char* key : {"val_accuracy", "val_loss"})
        if (!r.metrics.contains(key) && entry.contains(key)) r.metrics[key] = entry.at(key);
      records_.push_back(std::move(r));
    }
    best_file_ = doc.value("best", "");
    // A run is kept as it was created, not by whoever opens it (set_policy() changes it).
    policy_ = {std::max(1, doc.value("keep_last", policy_.keep_last)),
               std::max(1, doc.value("keep_best", policy_.keep_best)),
               doc.value("best_metric", policy_.best_metric)};
  } catch (const json::exception& e) {
    throw CorruptDataError(manifest.string() + ": not a valid run manifest (" + e.what() + ")");
  }
}

void RunDirectory::point(const std::string& link, const std::string& target) {
  const fs::path temporary = dir_ / ("." + link + ".tmp-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove(temporary, ec);
  fs::create_symlink(target, temporary);
  fs::rename(temporary, dir_ / link);  // atomic replacement of the old pointer
}

namespace {
std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&now, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

}  // namespace

fs::path RunDirectory::staging_path(const std::string& tag) const {
  // The form remove_abandoned_temporaries() recognises: .NAME.tmp-PID
  return dir_ / ("." + tag + ".tmp-" + std::to_string(::getpid()));
}

const CheckpointRecord* RunDirectory::find_epoch(int epoch) const {
  for (const auto& r : records_)
    if (r.epoch == epoch) return &r;
  return nullptr;
}

CheckpointRecord RunDirectory::commit(int epoch, std::int64_t step, const std::string& bytes,
                                      const json& metrics) {
  const std::string name = checkpoint_file_name(epoch);
  write_file_atomically(dir_ / name, bytes);
  Sha256 hash;
  hash.update(bytes.data(), bytes.size());
  return record_and_retain(
      {name, epoch, step, bytes.size(), hash.hex_digest(), metrics, utc_now()});
}

CheckpointRecord RunDirectory::commit_staged(int epoch, std::int64_t step, const fs::path& staged,
                                             std::uint64_t bytes, const std::string& sha256,
                                             const json& metrics) {
  const std::string name = checkpoint_file_name(epoch);
  fs::rename(staged, dir_ / name);
  return record_and_retain({name, epoch, step, bytes, sha256, metrics, utc_now()});
}

bool RunDirectory::better(const CheckpointRecord& a, const CheckpointRecord& b) const {
  const double x = a.metric(policy_.best_metric), y = b.metric(policy_.best_metric);
  if (std::isnan(x)) return false;
  if (std::isnan(y)) return true;
  const bool lower_is_better =
      policy_.best_metric.size() >= 4 &&
      policy_.best_metric.compare(policy_.best_metric.size() - 4, 4, "loss") == 0;
  return lower_is_better ? x < y : x > y;
}

// The best record, the earliest epoch on ties (a later epoch must be strictly better).
void RunDirectory::choose_best() {
  const CheckpointRecord* best = nullptr;
  for (const auto& r : records_)
    if (!best || better(r, *best)) best = &r;  // records_ are in epoch order
  best_file_ = best ? best->file : "";
}

CheckpointRecord RunDirectory::record_and_retain(CheckpointRecord record) {
  records_.erase(std::remove_if(records_.begin(), records_.end(),
                                [&](const auto& r) { return r.file == record.file; }),
                 records_.end());
  records_.push_back(record);
  std::stable_sort(records_.begin(), records_.end(),
                   [](const auto& a, const auto& b) { return a.epoch < b.epoch; });
  choose_best();
  save_manifest();  // the record exists before any pointer names the file
  point(kLatest, records_.back().file);
  point(kBest, best_file_);
  fsync_path(dir_);

  // Retention: the last keep_last by epoch plus the keep_best best; pointers never
  // dangle (latest is the last, best the first of the best).
  std::vector<const CheckpointRecord*> ranked;
  for (const auto& r : records_) ranked.push_back(&r);
  std::stable_sort(ranked.begin(), ranked.end(),
                   [&](const auto* a, const auto* b) { return better(*a, *b); });
  std::vector<std::string> keep;
  for (std::size_t i = 0; i < ranked.size() && i < static_cast<std::size_t>(policy_.keep_best); ++i)
    keep.push_back(ranked[i]->file);
  keep.push_back(best_file_);
  const std::size_t first_recent =
      records_.size() > static_cast<std::size_t>(policy_.keep_last)
          ? records_.size() - static_cast<std::size_t>(policy_.keep_last)
          : 0;
  std::vector<CheckpointRecord> kept;
  std::vector<std::string> doomed;
  for (std::size_t i = 0; i < records_.size(); ++i) {
    if (i >= first_recent || std::find(keep.begin(), keep.end(), records_[i].file) != keep.end())
      kept.push_back(records_[i]);
    else
      doomed.push_back(records_[i].file);
  }
  if (!doomed.empty()) {
    records_ = kept;
    save_manifest();  // forget them first, then delete
    for (const auto& file : doomed) {
      std::error_code ec;
      fs::remove(dir_ / file, ec);
    }
  }
  return record;
}

void RunDirectory::save_manifest() {
  json entries = json::array();
  for (const auto& r : records_)
    entries.push_back({{"file", r.file},
                       {"epoch", r.epoch},
                       {"step", r.step},
                       {"bytes", r.bytes},
                       {"sha256", r.sha256},
                       {"time", r.time},
                       {"metrics", r.metrics},
                       // Kept beside "metrics" for readers of format version 1.
                       {"val_accuracy", r.metric("val_accuracy")},
                       {"val_loss", r.metric("val_loss")}});
  const json doc = {{"format", "fer-run"},
                    {"format_version", 2},
                    {"checkpoints", entries},
                    {"latest", records_.empty() ? "" : records_.back().file},
                    {"best", best_file_},
                    {"best_metric", policy_.best_metric},
                    {"keep_last", policy_.keep_last},
                    {"keep_best", policy_.keep_best}};
  write_file_atomically(dir_ / kManifest, doc.dump(2) + "\n");
}

std::optional<fs::path> RunDirectory::latest() const {
  if (records_.empty()) return std::nullopt;
  return dir_ / records_.back().file;
}

std::optional<fs::path> RunDirectory::best() const {
  if (best_file_.empty()) return std::nullopt;
  return dir_ / best_file_;
}

bool RunDirectory::verify(const fs::path& file) const {
  std::error_code ec;
  const fs::path resolved = fs::canonical(file, ec);
  if (ec) throw InputError(file.string() + ": cannot resolve checkpoint: " + ec.message());
  for (const auto& r : records_) {
    if (r.file != resolved.filename().string()) continue;
    const auto bytes = fs::file_size(resolved, ec);
    if (ec || bytes != r.bytes)
      throw CorruptDataError(
          file.string() + ": " + (ec ? "unreadable" : std::to_string(bytes) + " bytes") +
          ", the run manifest says " + std::to_string(r.bytes) + " (truncated or modified)");
    const std::string sha = sha256_file(resolved);
    if (sha != r.sha256)
      throw CorruptDataError(file.string() + ": SHA-256 " + sha +
                             " differs from the run manifest (" + r.sha256 +
                             "): damaged or modified");
    return true;
  }
  return false;
}

void RunDirectory::forget_after(int epoch) {
  std::vector<std::string> doomed;
  std::vector<CheckpointRecord> kept;
  for (const auto& r : records_) {
    if (r.epoch > epoch)
      doomed.push_back(r.file);
    else
      kept.push_back(r);
  }
  if (doomed.empty()) return;
  records_ = kept;
  choose_best();            // the best of what remains, earliest on ties
  choose_best_and_point();  // pointers move before the files they named are deleted
  for (const auto& file : doomed) {
    std::error_code ec;
    fs::remove(dir_ / file, ec);
  }
}

void RunDirectory::choose_best_and_point() {
  save_manifest();
  std::error_code ec;
  if (records_.empty()) {
    fs::remove(dir_ / kLatest, ec);
    fs::remove(dir_ / kBest, ec);
  } else {
    point(kLatest, records_.back().file);
    point(kBest, best_file_);
  }
  fsync_path(dir_);
}

void RunDirectory::rewrite_metrics(const json& lines) {
  std::string text;
  for (const json& line : lines) text += line.dump() + "\n";
  write_file_atomically(dir_ / "metrics.jsonl", text);
}

void RunDirectory::append_metrics(const json& line) {
  const fs::path path = dir_ / "metrics.jsonl";
  {
    std::ofstream out(path, std::ios::app);
    out << line.dump() << "\n";
    if (!out) throw std::runtime_error(path.string() + ": write failed");
  }
  fsync_path(path);
}

json RunDirectory::read_metrics() const {
  json lines = json::array();
  std::ifstream in(dir_ / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    try {
      lines.push_back(json::parse(line));
    } catch (const json::exception&) {
      if (in.peek() == EOF) break;  // torn by a crash mid-append: that line never counted
      throw CorruptDataError((dir_ / "metrics.jsonl").string() + ": line " +
                             std::to_string(lines.size() + 1) + " is not JSON");
    }
  }
  return lines;
}

void RunDirectory::write_text(const std::string& name, const std::string& contents) {
  write_file_atomically(dir_ / name, contents);
}

}  // namespace fer::runs
