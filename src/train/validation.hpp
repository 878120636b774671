#pragma once
// The validation of an epoch: this rank's exact counts (confusion matrix, summed loss,
// images) of its share of the val split.

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "data/emotions.hpp"
#include "metrics/evaluation_counts.hpp"
#include "model/fer_net.hpp"
#include "pipeline/batch_loader.hpp"

namespace fer {

// One pass over `loader` in eval mode (this rank's share of the split; sum_over_ranks()
// in dist/evaluation_sum.hpp makes the job's counts); test-time views of an image are
// averaged.
EvaluationCounts evaluate(FerNet& model, BatchLoader& loader, const torch::Device& device, bool amp,
                          bool channels_last);

// "An 0.52 Di 0.10 ..." : the recall of every class.
std::string recall_line(const ConfusionMatrix& matrix);

}  // namespace fer
