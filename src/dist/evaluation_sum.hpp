#pragma once
// The one reduction of evaluation counts over a job's ranks (collective): each rank
// scored a disjoint share of the split, so the sums count every image exactly once.

#include <string>

#include "dist/process_group.hpp"
#include "metrics/evaluation_counts.hpp"

namespace fer {

// `what` names the collective in a timeout message.
void sum_over_ranks(EvaluationCounts& counts, ProcessGroup& group, const std::string& what);

}  // namespace fer
