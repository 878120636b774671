#include "train/validation.hpp"

#include <cstdio>

#include "train/torch_batch.hpp"

namespace fer {

namespace {
constexpr const char* kEmotionShort[kNumEmotions] = {"An", "Di", "Fe", "Ha", "Sa", "Su", "Ne"};
}  // namespace

EvaluationCounts evaluate(FerNet& model, BatchLoader& loader, const torch::Device& device, bool amp,
                          bool channels_last) {
  EvaluationCounts result(kNumEmotions);
  model->eval();
  torch::NoGradGuard no_grad;
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    AutocastScope autocast(amp);
    torch::Tensor logits =
        model->forward(batch_images(*batch, device, channels_last)).to(torch::kFloat32);
    // Test-time augmentation: average the logits of each image's views.
    logits = logits.view({batch->size, batch->views, kNumEmotions}).mean(1);
    torch::Tensor labels = batch_labels(*batch, device);
    result.loss_sum +=
        torch::nn::functional::cross_entropy(
            logits, labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
            .item<double>();
    torch::Tensor predicted = logits.argmax(1).to(torch::kCPU);
    const auto* p = predicted.data_ptr<std::int64_t>();
    for (int k = 0; k < batch->size; ++k)
      result.matrix.add(static_cast<int>(batch->labels[k]), static_cast<int>(p[k]));
    result.images += batch->size;
  }
  return result;
}

std::string recall_line(const ConfusionMatrix& matrix) {
  std::string line;
  char part[32];
  for (int c = 0; c < kNumEmotions; ++c) {
    std::snprintf(part, sizeof part, "%s%s %.2f", c ? " " : "", kEmotionShort[c],
                  matrix.class_metrics(c).recall);
    line += part;
  }
  return line;
}

}  // namespace fer
