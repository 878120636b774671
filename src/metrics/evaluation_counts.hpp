#pragma once
// The exact counts of one evaluation: confusion matrix, summed cross-entropy, images
// and top-2 hits. Every figure (accuracy, mean loss, per-class P/R/F1) is computed from
// them, so counts of disjoint parts summed — ranks of a job (dist/evaluation_sum.hpp),
// reports reaching the coordinator — give the numbers of one pass over everything.
// One type for the trainer's validation, fer-eval and the coordinator.

#include <cstdint>

#include "metrics/confusion_matrix.hpp"

namespace fer {

struct EvaluationCounts {
  ConfusionMatrix matrix;
  double loss_sum = 0;  // cross-entropy, summed over images
  std::int64_t images = 0;
  std::int64_t top2_correct = 0;  // 0 where not counted (the trainer's validation)

  explicit EvaluationCounts(int classes = 7) : matrix(classes) {}

  double accuracy() const { return matrix.accuracy(); }
  double mean_loss() const { return images ? loss_sum / static_cast<double>(images) : 0.0; }
  double top2_accuracy() const {
    return images ? static_cast<double>(top2_correct) / static_cast<double>(images) : 0.0;
  }
  // Adds the counts of a disjoint part (the same classes).
  EvaluationCounts& operator+=(const EvaluationCounts& other) {
    matrix.merge(other.matrix);
    loss_sum += other.loss_sum;
    images += other.images;
    top2_correct += other.top2_correct;
    return *this;
  }
};

}  // namespace fer
