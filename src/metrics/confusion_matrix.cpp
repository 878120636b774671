#include "metrics/confusion_matrix.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace fer {

void ConfusionMatrix::merge(const ConfusionMatrix& other) {
  if (other.classes_ != classes_)
    throw std::invalid_argument("ConfusionMatrix::merge: " + std::to_string(other.classes_) +
                                " classes vs " + std::to_string(classes_));
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
}

std::int64_t ConfusionMatrix::total() const {
  return std::accumulate(counts_.begin(), counts_.end(), std::int64_t{0});
}

double ConfusionMatrix::accuracy() const {
  std::int64_t correct = 0;
  for (int c = 0; c < classes_; ++c) correct += count(c, c);
  const std::int64_t all = total();
  return all ? static_cast<double>(correct) / static_cast<double>(all) : 0.0;
}

ClassMetrics ConfusionMatrix::class_metrics(int c) const {
  ClassMetrics m;
  std::int64_t predicted = 0;
  for (int t = 0; t < classes_; ++t) predicted += count(t, c);
  for (int p = 0; p < classes_; ++p) m.support += count(c, p);
  const auto tp = static_cast<double>(count(c, c));
  m.precision = predicted ? tp / static_cast<double>(predicted) : 0.0;
  m.recall = m.support ? tp / static_cast<double>(m.support) : 0.0;
  m.f1 = m.precision + m.recall > 0 ? 2 * m.precision * m.recall / (m.precision + m.recall) : 0.0;
  return m;
}

double ConfusionMatrix::macro_f1() const {
  double sum = 0;
  for (int c = 0; c < classes_; ++c) sum += class_metrics(c).f1;
  return sum / classes_;
}

double ConfusionMatrix::macro_recall() const {
  double sum = 0;
  for (int c = 0; c < classes_; ++c) sum += class_metrics(c).recall;
  return sum / classes_;
}

double ConfusionMatrix::weighted_f1() const {
  double sum = 0;
  std::int64_t support = 0;
  for (int c = 0; c < classes_; ++c) {
    const ClassMetrics m = class_metrics(c);
    sum += m.f1 * static_cast<double>(m.support);
    support += m.support;
  }
  return support ? sum / static_cast<double>(support) : 0.0;
}

}  // namespace fer
