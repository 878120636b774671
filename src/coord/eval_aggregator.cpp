#include "coord/eval_aggregator.hpp"

#include <algorithm>

#include "common/error.hpp"

namespace fer::coord {
using nlohmann::json;

namespace {
bool same_report(const EvalReport& a, const EvalReport& b) {
  return a.classes == b.classes && a.counts == b.counts && a.loss_sum == b.loss_sum &&
         a.samples == b.samples && a.extra_json == b.extra_json;
}

std::string where(const EvalReport& r) {
  return "rank " + std::to_string(r.rank) + ", " + r.split + " epoch " + std::to_string(r.epoch);
}
// A report's counts (its shape was checked on arrival).
EvaluationCounts counts_of(const EvalReport& r) {
  EvaluationCounts counts(static_cast<int>(r.classes));
  counts.matrix.counts() = r.counts;
  counts.loss_sum = r.loss_sum;
  counts.images = r.samples;
  return counts;
}
}  // namespace

json metrics_line(const EvalSummary& s, const std::vector<std::string>& class_names) {
  const ConfusionMatrix& m = s.matrix;
  const std::string p = s.split + "_";
  json line = {{"epoch", s.epoch}, {"split", s.split}, {"ranks", s.ranks}};
  line[p + "images"] = s.images;
  line[p + "loss"] = s.mean_loss();
  line[p + "accuracy"] = m.accuracy();
  json per_class = json::array(), recalls = json::array();
  double macro[3] = {0, 0, 0}, weighted[3] = {0, 0, 0};
  std::int64_t support_total = 0;
  for (int c = 0; c < m.classes(); ++c) {
    const ClassMetrics cm = m.class_metrics(c);
    const std::string name =
        c < static_cast<int>(class_names.size()) ? class_names[c] : std::to_string(c);
    per_class.push_back({{"class", name},
                         {"precision", cm.precision},
                         {"recall", cm.recall},
                         {"f1", cm.f1},
                         {"support", cm.support}});
    recalls.push_back(cm.recall);
    const double values[3] = {cm.precision, cm.recall, cm.f1};
    for (int k = 0; k < 3; ++k) {
      macro[k] += values[k] / m.classes();
      weighted[k] += values[k] * static_cast<double>(cm.support);
    }
    support_total += cm.support;
  }
  const char* names[3] = {"precision", "recall", "f1"};
  for (int k = 0; k < 3; ++k) {
    line[p + "macro_" + names[k]] = macro[k];
    line[p + "weighted_" + names[k]] =
        support_total ? weighted[k] / static_cast<double>(support_total) : 0.0;
  }
  line[p + "recall"] = recalls;
  line[p + "per_class"] = per_class;
  line[p + "confusion_matrix"] = m.counts();
  for (const auto& [key, value] : s.extra.items())
    if (!line.contains(key)) line[key] = value;
  return line;
}

EvalAggregator::Result EvalAggregator::add(const EvalReport& report, SteadyClock::time_point now) {
  if (report.rank >= static_cast<std::uint32_t>(world_size_))
    throw InputError(where(report) + ": rank outside this run's world of " +
                     std::to_string(world_size_));
  if (report.classes == 0 || report.counts.size() != std::size_t(report.classes) * report.classes)
    throw InputError(where(report) + ": " + std::to_string(report.counts.size()) + " counts for " +
                     std::to_string(report.classes) + " classes");
  if (report.epoch < 0) throw InputError(where(report) + ": negative epoch");
  if (report.split.empty() || report.split.size() > 32)
    throw InputError(where(report) + ": split name must have 1..32 characters");
  const Key key{report.split, report.epoch};
  if (aggregated_.count(key)) return {Outcome::kAggregated, std::nullopt};
  auto [it, fresh] = partial_.try_emplace(key);
  Partial& partial = it->second;
  if (fresh) partial.first_report = now;
  if (!partial.reports.empty() && partial.reports.begin()->second.classes != report.classes)
    throw InputError(where(report) + ": " + std::to_string(report.classes) + " classes, rank " +
                     std::to_string(partial.reports.begin()->first) + " reported " +
                     std::to_string(partial.reports.begin()->second.classes));
  if (const auto known = partial.reports.find(static_cast<int>(report.rank));
      known != partial.reports.end()) {
    if (same_report(known->second, report)) return {Outcome::kDuplicate, std::nullopt};
    throw InputError(where(report) + ": a second, different report (the first one stands)");
  }
  partial.reports.emplace(static_cast<int>(report.rank), report);
  if (partial.reports.size() < static_cast<std::size_t>(world_size_))
    return {Outcome::kPending, std::nullopt};

  EvalSummary summary;
  summary.split = report.split;
  summary.epoch = report.epoch;
  summary.ranks = world_size_;
  summary.matrix = ConfusionMatrix(static_cast<int>(report.classes));
  for (const auto& [rank, r] : partial.reports) {
    summary += counts_of(r);
    if (!r.extra_json.empty()) {
      try {
        const json extra = json::parse(r.extra_json);
        if (extra.is_object()) summary.extra.update(extra);
      } catch (const json::exception&) {
        // A malformed extra never blocks the counts; it is simply not merged.
      }
    }
  }
  partial_.erase(it);
  aggregated_[key] = true;
  return {Outcome::kComplete, std::move(summary)};
}

void EvalAggregator::mark_aggregated(const std::string& split, int epoch) {
  const Key key{split, epoch};
  partial_.erase(key);
  aggregated_[key] = true;
}

void EvalAggregator::forget_after(int epoch) {
  for (auto it = partial_.begin(); it != partial_.end();)
    it = it->first.epoch > epoch ? partial_.erase(it) : std::next(it);
  for (auto it = aggregated_.begin(); it != aggregated_.end();)
    it = it->first.epoch > epoch ? aggregated_.erase(it) : std::next(it);
}

void EvalAggregator::set_world_size(int world_size) {
  if (world_size == world_size_) return;
  world_size_ = world_size;
  partial_.clear();
}

PendingEval EvalAggregator::describe(const Key& key, const Partial& partial,
                                     SteadyClock::time_point now) const {
  PendingEval p{key.split,
                key.epoch,
                {},
                {},
                std::chrono::duration<double>(now - partial.first_report).count()};
  for (int r = 0; r < world_size_; ++r)
    (partial.reports.count(r) ? p.reported_ranks : p.missing_ranks).push_back(r);
  return p;
}

std::vector<PendingEval> EvalAggregator::pending(SteadyClock::time_point now) const {
  std::vector<PendingEval> result;
  for (const auto& [key, partial] : partial_) result.push_back(describe(key, partial, now));
  return result;
}

std::vector<PendingEval> EvalAggregator::newly_overdue(double deadline_seconds,
                                                       SteadyClock::time_point now) {
  std::vector<PendingEval> result;
  for (auto& [key, partial] : partial_) {
    if (partial.overdue_reported ||
        std::chrono::duration<double>(now - partial.first_report).count() < deadline_seconds)
      continue;
    partial.overdue_reported = true;
    result.push_back(describe(key, partial, now));
  }
  return result;
}

bool EvalAggregator::is_overdue(const std::string& split, int epoch) const {
  const auto it = partial_.find(Key{split, epoch});
  return it != partial_.end() && it->second.overdue_reported;
}

std::size_t EvalAggregator::pending_reports() const {
  std::size_t n = 0;
  for (const auto& [key, partial] : partial_) n += partial.reports.size();
  return n;
}

json report_to_json(const EvalReport& r) {
  return {{"split", r.split},     {"epoch", r.epoch},     {"rank", r.rank},
          {"classes", r.classes}, {"counts", r.counts},   {"loss_sum", r.loss_sum},
          {"samples", r.samples}, {"extra", r.extra_json}};
}

EvalReport report_from_json(const json& j) {
  EvalReport r;
  r.split = j.at("split").get<std::string>();
  r.epoch = j.at("epoch").get<std::int32_t>();
  r.rank = j.at("rank").get<std::uint32_t>();
  r.classes = j.at("classes").get<std::uint32_t>();
  r.counts = j.at("counts").get<std::vector<std::int64_t>>();
  r.loss_sum = j.at("loss_sum").get<double>();
  r.samples = j.at("samples").get<std::int64_t>();
  r.extra_json = j.value("extra", "");
  return r;
}

}  // namespace fer::coord
