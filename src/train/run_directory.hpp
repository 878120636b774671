#pragma once
// checkpoints/<run>/: the checkpoints of one training run and the record of them.
//   epoch-0007.pt     checkpoints (written atomically: temporary file, fsync, rename)
//   latest.pt best.pt symlinks, replaced atomically and only once their target is on disk
//   manifest.json     every kept checkpoint: epoch, step, bytes, SHA-256, val metrics
//   metrics.jsonl     one JSON line per epoch (fsynced)
//   config.yaml       the effective configuration of the run
// Retention keeps the last `keep_last` checkpoints and the best one; a pointer never
// dangles. No LibTorch here: checkpoint bytes come in serialised.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fer {

struct CheckpointRecord {
  std::string file;
  int epoch = 0;
  std::int64_t step = 0;
  std::uint64_t bytes = 0;
  std::string sha256;
  double val_accuracy = 0;
  double val_loss = 0;
};

class RunDirectory {
 public:
  RunDirectory(std::filesystem::path dir, int keep_last);

  const std::filesystem::path& path() const { return dir_; }
  const std::vector<CheckpointRecord>& checkpoints() const { return records_; }

  // Stores `bytes` as epoch-NNNN.pt, records it, moves `latest` (and `best` when
  // is_best), then removes checkpoints beyond retention.
  CheckpointRecord commit(int epoch, std::int64_t step, const std::string& bytes,
                          double val_accuracy, double val_loss, bool is_best);
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
  void write_text(const std::string& name, const std::string& contents);

 private:
  void save_manifest();
  void choose_best_and_point();
  void point(const std::string& link, const std::string& target);

  std::filesystem::path dir_;
  int keep_last_;
  std::vector<CheckpointRecord> records_;
  std::string best_file_;
};

// A checkpoint named on the command line: a .pt file, a run directory (its latest.pt),
// or a run name under `checkpoints_dir`. Throws InputError naming what was tried.
std::filesystem::path resolve_checkpoint(const std::string& spec,
                                         const std::filesystem::path& checkpoints_dir);

}  // namespace fer
