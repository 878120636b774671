#pragma once
// The validation of an epoch: this rank's exact counts (confusion matrix, summed loss,
// images) of its share of the val split, and their sum over the job's ranks.

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "data/emotions.hpp"
#include "dist/process_group.hpp"
#include "metrics/confusion_matrix.hpp"
#include "model/fer_net.hpp"
#include "pipeline/batch_loader.hpp"

namespace fer {

struct Evaluation {
  ConfusionMatrix matrix{kNumEmotions};
  double loss_sum = 0;
  std::int64_t samples = 0;
  double loss() const { return samples ? loss_sum / static_cast<double>(samples) : 0.0; }
};

// One pass over `loader` in eval mode; test-time views of an image are averaged.
Evaluation evaluate(FerNet& model, BatchLoader& loader, const torch::Device& device, bool amp,
                    bool channels_last);

// Sums every rank's counts: the job's confusion matrix counts each val image exactly
// once (the loader splits the split across ranks). `what` names the collective.
void reduce_evaluation(Evaluation& evaluation, ProcessGroup& group, const std::string& what);

// "An 0.52 Di 0.10 ..." : the recall of every class.
std::string recall_line(const ConfusionMatrix& matrix);

}  // namespace fer
