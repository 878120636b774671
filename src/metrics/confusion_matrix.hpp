#pragma once
// Classification metrics computed exactly from counts, so that per-rank matrices
// summed give the same numbers as one process over all images.

#include <cstdint>
#include <string>
#include <vector>

namespace fer {

struct ClassMetrics {
  double precision = 0;  // 0 when the class was never predicted
  double recall = 0;     // 0 when the class has no support
  double f1 = 0;
  std::int64_t support = 0;
};

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int classes = 7)
      : classes_(classes), counts_(std::size_t(classes) * classes, 0) {}

  void add(int truth, int predicted, std::int64_t count = 1) {
    counts_.at(index(truth, predicted)) += count;
  }
  // Element-wise sum (reduction of per-rank matrices); class counts must match.
  void merge(const ConfusionMatrix& other);
  void clear() { std::fill(counts_.begin(), counts_.end(), 0); }

  int classes() const { return classes_; }
  std::int64_t count(int truth, int predicted) const { return counts_[index(truth, predicted)]; }
  // Row-major [truth][predicted] counts, e.g. for an MPI reduction.
  std::vector<std::int64_t>& counts() { return counts_; }
  const std::vector<std::int64_t>& counts() const { return counts_; }

  std::int64_t total() const;
  double accuracy() const;
  ClassMetrics class_metrics(int c) const;
  double macro_f1() const;
  double weighted_f1() const;
  double macro_recall() const;

 private:
  std::size_t index(int truth, int predicted) const {
    return static_cast<std::size_t>(truth) * classes_ + static_cast<std::size_t>(predicted);
  }
  int classes_;
  std::vector<std::int64_t> counts_;
};

}  // namespace fer
