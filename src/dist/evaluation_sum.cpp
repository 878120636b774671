#include "dist/evaluation_sum.hpp"

#include <vector>

namespace fer {

void sum_over_ranks(EvaluationCounts& counts, ProcessGroup& group, const std::string& what) {
  // The integers in one reduction (exact), the loss in another.
  std::vector<std::int64_t> integers = counts.matrix.counts();
  integers.push_back(counts.images);
  integers.push_back(counts.top2_correct);
  group.all_reduce_sum(integers.data(), integers.size(), what + " (counts)");
  counts.top2_correct = integers.back();
  integers.pop_back();
  counts.images = integers.back();
  integers.pop_back();
  counts.matrix.counts() = std::move(integers);
  group.all_reduce_sum(&counts.loss_sum, 1, what + " (loss)");
}

}  // namespace fer
