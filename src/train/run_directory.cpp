#include "train/run_directory.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "common/atomic_output.hpp"
#include "common/error.hpp"
#include "common/sha256.hpp"

namespace fer {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr const char* kManifest = "manifest.json";
constexpr const char* kLatest = "latest.pt";
constexpr const char* kBest = "best.pt";
}  // namespace

RunDirectory::RunDirectory(fs::path dir, int keep_last)
    : dir_(std::move(dir)), keep_last_(std::max(1, keep_last)) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw InputError(dir_.string() + ": cannot create run directory: " + ec.message());
  remove_abandoned_temporaries(dir_);  // checkpoints half-written by a killed run
  const fs::path manifest = dir_ / kManifest;
  if (!fs::exists(manifest)) return;
  try {
    std::ifstream in(manifest);
    const json doc = json::parse(in);
    for (const json& entry : doc.at("checkpoints"))
      records_.push_back(
          {entry.at("file").get<std::string>(), entry.at("epoch").get<int>(),
           entry.at("step").get<std::int64_t>(), entry.at("bytes").get<std::uint64_t>(),
           entry.at("sha256").get<std::string>(), entry.at("val_accuracy").get<double>(),
           entry.at("val_loss").get<double>()});
    best_file_ = doc.value("best", "");
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

CheckpointRecord RunDirectory::commit(int epoch, std::int64_t step, const std::string& bytes,
                                      double val_accuracy, double val_loss, bool is_best) {
  char name[32];
  std::snprintf(name, sizeof name, "epoch-%04d.pt", epoch);
  write_file_atomically(dir_ / name, bytes);
  Sha256 hash;
  hash.update(bytes.data(), bytes.size());
  CheckpointRecord record{name,         epoch,   step, bytes.size(), hash.hex_digest(),
                          val_accuracy, val_loss};
  records_.erase(std::remove_if(records_.begin(), records_.end(),
                                [&](const auto& r) { return r.file == record.file; }),
                 records_.end());
  records_.push_back(record);
  if (is_best || best_file_.empty()) best_file_ = record.file;
  save_manifest();  // the record exists before any pointer names the file
  point(kLatest, record.file);
  if (best_file_ == record.file) point(kBest, record.file);
  fsync_path(dir_);

  // Retention: the last keep_last by epoch, plus the best; pointers never dangle.
  std::vector<CheckpointRecord> kept;
  const std::size_t first_recent = records_.size() > static_cast<std::size_t>(keep_last_)
                                       ? records_.size() - static_cast<std::size_t>(keep_last_)
                                       : 0;
  std::vector<std::string> doomed;
  for (std::size_t i = 0; i < records_.size(); ++i) {
    if (i >= first_recent || records_[i].file == best_file_)
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
                       {"val_accuracy", r.val_accuracy},
                       {"val_loss", r.val_loss}});
  const json doc = {
      {"format", "fer-run"},    {"format_version", 1},
      {"checkpoints", entries}, {"latest", records_.empty() ? "" : records_.back().file},
      {"best", best_file_},     {"best_metric", "val_accuracy"}};
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
  const CheckpointRecord* best = nullptr;  // the best of what remains, earliest on ties
  for (const auto& r : records_)
    if (!best || r.val_accuracy > best->val_accuracy) best = &r;
  best_file_ = best ? best->file : "";
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

void RunDirectory::write_text(const std::string& name, const std::string& contents) {
  write_file_atomically(dir_ / name, contents);
}

fs::path resolve_checkpoint(const std::string& spec, const fs::path& checkpoints_dir) {
  std::vector<fs::path> tried;
  for (const fs::path& candidate : {fs::path(spec), checkpoints_dir / spec}) {
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return candidate;
    if (fs::is_directory(candidate, ec)) {
      if (fs::exists(candidate / kLatest)) return candidate / kLatest;
      throw InputError(candidate.string() + ": run directory without a checkpoint (no " + kLatest +
                       ")");
    }
    tried.push_back(candidate);
  }
  throw InputError("checkpoint '" + spec + "' not found (tried " + tried[0].string() + " and " +
                   tried[1].string() + ")");
}

}  // namespace fer
