#pragma once
// checkpoints/<run>/: the checkpoints of one training run and the record of them.
//   epoch-0007.pt     checkpoints (written atomically: temporary file, fsync, rename)
//   latest.pt best.pt symlinks, replaced atomically and only once their target is on disk
//   manifest.json     every kept checkpoint: epoch, step, bytes, SHA-256, metrics, time
//   metrics.jsonl     one JSON line per epoch (fsynced)
//   config.yaml       the effective configuration of the run
// Retention keeps the last `keep_last` checkpoints and the `keep_best` best by one
// metric (higher is better, or lower for a metric whose name ends in "loss"); `best`
// names the best of all, the earliest on ties; a pointer never dangles. The
// coordinator owns these directories (fer-train hands checkpoints to it). No
// LibTorch here: checkpoint bytes come in serialised.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runs/run_lookup.hpp"

namespace fer::runs {

struct CheckpointRecord {
  std::string file;
  int epoch = 0;
  std::int64_t step = 0;
  std::uint64_t bytes = 0;
  std::string sha256;
  nlohmann::json metrics = nlohmann::json::object();  // e.g. val_accuracy, val_loss
  std::string time;                                   // UTC, ISO 8601, when it was stored
  double metric(const std::string& name) const;       // NaN when absent
};

struct RetentionPolicy {
  int keep_last = 3;
  int keep_best = 1;
  std::string best_metric = "val_accuracy";
};

class RunDirectory {
 public:
  // Opens `dir` for writing: creates it if needed and removes temporaries that a
  // killed writer left. Only the run's owner (the coordinator serving it) does this.
  // `policy` is for a new run: one with a manifest keeps the retention stored there.
  RunDirectory(std::filesystem::path dir, int keep_last);
  RunDirectory(std::filesystem::path dir, RetentionPolicy policy);
  // Reads the manifest of an existing run without touching the directory (readers:
  // fer-eval, fer-predict, a trainer choosing what to resume). Throws InputError when
  // `dir` does not exist, CorruptDataError for a damaged manifest.
  static RunDirectory open_for_reading(std::filesystem::path dir);

  const std::filesystem::path& path() const { return dir_; }
  const std::vector<CheckpointRecord>& checkpoints() const { return records_; }

  // Stores `bytes` as epoch-NNNN.pt, records it, moves `latest` (and `best` when it
  // is the best by the policy's metric), then removes checkpoints beyond retention.
  CheckpointRecord commit(int epoch, std::int64_t step, const std::string& bytes,
                          const nlohmann::json& metrics);
  // The same for a checkpoint already written, fsynced and verified at `staged` (a
  // temporary file in this directory, as from staging_path()): it is renamed into place.
  CheckpointRecord commit_staged(int epoch, std::int64_t step, const std::filesystem::path& staged,
                                 std::uint64_t bytes, const std::string& sha256,
                                 const nlohmann::json& metrics);
  // A temporary name in this directory for an incoming checkpoint (`tag` keeps
  // concurrent uploads apart); remove_abandoned_temporaries() cleans up after a crash.
  std::filesystem::path staging_path(const std::string& tag) const;
  // The kept checkpoint of `epoch`, if any.
  const CheckpointRecord* find_epoch(int epoch) const;
  const RetentionPolicy& policy() const { return policy_; }
  // The run's owner changes how it is kept: best and the pointers are chosen again by
  // the new metric and the manifest says so; checkpoints go only at the next commit.
  void set_policy(RetentionPolicy policy);
  std::optional<std::filesystem::path> latest() const;
  std::optional<std::filesystem::path> best() const;

  // Checks `file` against its record: throws CorruptDataError when it is listed here
  // with another size or SHA-256; returns false when it is not listed at all.
  bool verify(const std::filesystem::path& file) const;
  // Resuming from epoch `epoch`: forgets (and deletes) the checkpoints of later
  // epochs, which the resumed run will write again, and re-derives best and latest.
  void forget_after(int epoch);
  // Replaces metrics.jsonl with these lines (one JSON object each), atomically.
  void rewrite_metrics(const nlohmann::json& lines);
  void append_metrics(const nlohmann::json& line);
  // Every line of metrics.jsonl; a torn last line (a crash mid-append) is dropped.
  nlohmann::json read_metrics() const;
  void write_text(const std::string& name, const std::string& contents);

 private:
  struct ReadOnly {};
  RunDirectory(std::filesystem::path dir, RetentionPolicy policy, ReadOnly);
  void load_manifest();
  void save_manifest();
  void choose_best_and_point();
  void point(const std::string& link, const std::string& target);
  CheckpointRecord record_and_retain(CheckpointRecord record);
  void choose_best();
  bool better(const CheckpointRecord& a, const CheckpointRecord& b) const;

  std::filesystem::path dir_;
  RetentionPolicy policy_;
  std::vector<CheckpointRecord> records_;
  std::string best_file_;
};

}  // namespace fer::runs
