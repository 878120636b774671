#pragma once
// Startup agreement: before the first step every rank checks that it agrees with
// rank 0 on what matters (the configuration, the model's parameter shapes, the data
// manifest). Ranks that disagree would hang in mismatched collectives or silently
// train different models; instead the job ends with one message naming each
// disagreeing rank and the first differences. No LibTorch here.

#include <functional>
#include <string>
#include <vector>

#include "dist/process_group.hpp"

namespace fer {

struct AgreementItem {
  std::string name;  // "configuration", "model parameter shapes", "data manifest"
  std::string text;  // line-oriented, so differences can be shown line by line
};

// Collective. Throws JobWideError (exit code 2) on every rank when any rank's text
// differs from rank 0's; rank 0 reports it.
void check_agreement(ProcessGroup& group, const std::vector<AgreementItem>& items);

// Runs `step` on every rank (or on rank 0 only, with root_only) and makes the
// outcome shared: if it threw on any rank, every rank throws JobWideError with the
// exit code of the first rank that failed, and rank 0 prints each failing rank's
// message once. A world of one just runs `step`. For steps whose failure other ranks
// could otherwise only notice at their next collective's deadline (resolving the
// run directory, loading a checkpoint).
void all_or_nothing(ProcessGroup& group, const std::string& what, const std::function<void()>& step,
                    bool root_only = false);

// "'optim.lr: 0.02' where rank 0 has 'optim.lr: 0.01'" for the first `limit` lines
// that differ; indented lines are prefixed with the last unindented line (YAML
// section). Empty when the texts are equal.
std::string describe_differences(const std::string& reference, const std::string& mine,
                                 int limit = 3);

}  // namespace fer
