#pragma once
// Turns per-rank evaluation counts into a job's metrics, exactly: every rank reports
// its confusion-matrix counts, loss sum and sample count for (split, epoch); when all
// `world_size` ranks have reported, the counts are summed and every figure is
// computed from the sums, so the result equals one process evaluating every image.
// Pure bookkeeping (no I/O, no sockets): the coordinator journals and writes.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "coord/protocol.hpp"
#include "metrics/evaluation_counts.hpp"

namespace fer::coord {

using SteadyClock = std::chrono::steady_clock;

// The job's counts of one evaluation (every rank's report summed) and where from.
struct EvalSummary : EvaluationCounts {
  std::string split;
  int epoch = 0;
  int ranks = 0;
  nlohmann::json extra = nlohmann::json::object();  // training figures sent by rank 0
};

// The metrics.jsonl line of a summary: "epoch", "split", "ranks" and, prefixed with the
// split ("val_"): images, loss (mean), accuracy, per_class [{class, precision, recall,
// f1, support}], recall (per class), macro_/weighted_ precision, recall and f1,
// confusion_matrix (row-major counts); then the extra fields.
nlohmann::json metrics_line(const EvalSummary& summary,
                            const std::vector<std::string>& class_names);

struct PendingEval {
  std::string split;
  int epoch = 0;
  std::vector<int> reported_ranks;
  std::vector<int> missing_ranks;
  double age_seconds = 0;
};

class EvalAggregator {
 public:
  explicit EvalAggregator(int world_size) : world_size_(world_size) {}

  enum class Outcome {
    kPending,     // stored; other ranks still to report
    kComplete,    // this report completed the set: `summary` holds the result
    kDuplicate,   // the same report again (a resend): nothing changes
    kAggregated,  // (split, epoch) was aggregated already: nothing changes
  };
  struct Result {
    Outcome outcome = Outcome::kPending;
    std::optional<EvalSummary> summary;
  };
  // Throws InputError for a report that cannot belong to this run: a rank outside
  // the world, a class count other ranks did not use, or a different report from a
  // rank that already reported (names the rank, split and epoch).
  Result add(const EvalReport& report, SteadyClock::time_point now = SteadyClock::now());

  // Restoring after a restart: (split, epoch) whose line is in metrics.jsonl.
  void mark_aggregated(const std::string& split, int epoch);
  // A run resuming after `epoch`: everything about later epochs is forgotten.
  void forget_after(int epoch);
  // A new job of the run may have another world size; pending sets are dropped.
  void set_world_size(int world_size);
  int world_size() const { return world_size_; }

  std::vector<PendingEval> pending(SteadyClock::time_point now = SteadyClock::now()) const;
  // Pending sets older than `deadline_seconds` not reported before: each is returned
  // once, so the caller logs it once.
  std::vector<PendingEval> newly_overdue(double deadline_seconds,
                                         SteadyClock::time_point now = SteadyClock::now());
  bool is_overdue(const std::string& split, int epoch) const;
  std::size_t pending_reports() const;

 private:
  struct Key {
    std::string split;
    int epoch;
    bool operator<(const Key& o) const {
      return std::tie(epoch, split) < std::tie(o.epoch, o.split);
    }
  };
  struct Partial {
    SteadyClock::time_point first_report;
    std::map<int, EvalReport> reports;  // by rank
    bool overdue_reported = false;
  };
  PendingEval describe(const Key& key, const Partial& partial, SteadyClock::time_point now) const;

  int world_size_;
  std::map<Key, Partial> partial_;
  std::map<Key, bool> aggregated_;  // the keys only: their figures live in metrics.jsonl
};

// The report as one JSON object (the coordinator's journal), and back.
nlohmann::json report_to_json(const EvalReport& report);
EvalReport report_from_json(const nlohmann::json& j);

}  // namespace fer::coord
