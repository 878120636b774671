#pragma once
// The validation metrics a run can rank its checkpoints by (checkpoint.best_metric), with
// their names as metrics.jsonl, the run manifest and the coordinator's Hello spell them.
// One list for the trainer's config and the coordinator, which must not depend on config.

#include <array>
#include <string_view>

#include "common/choice.hpp"

namespace fer {

enum class BestMetric { kValAccuracy, kValMacroF1, kValLoss };

template <>
struct ChoiceNames<BestMetric> {
  static constexpr std::array<std::string_view, 3> names{"val_accuracy", "val_macro_f1",
                                                         "val_loss"};
};

}  // namespace fer
