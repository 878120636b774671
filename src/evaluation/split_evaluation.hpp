#pragma once
// Scoring a trained model on one split of a shard directory (fer-eval): each rank of
// the job scores its share of the images, and the counts are summed exactly, so N
// ranks report the same numbers as one process. No LibTorch here.

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/emotions.hpp"
#include "dist/process_group.hpp"
#include "inference/emotion_classifier.hpp"
#include "metrics/evaluation_counts.hpp"

namespace fer {

struct EvaluationOptions {
  std::filesystem::path shards;  // shard directory
  Split split = Split::kVal;
  EvalTta tta = EvalTta::kNone;
  int batch_size = 256;
  int loader_threads = 1;
  bool keep_predictions = false;  // per-image rows (predictions.csv)
  bool progress = false;
};

struct PredictionRow {
  std::size_t index = 0;  // image index within the split
  std::string source;     // source row or file name from the shards
  int truth = 0;
  int predicted = 0;
  std::vector<double> probabilities;  // 7, summing to 1
};

// The job's counts (summed over ranks) and what they were measured on.
struct EvaluationReport : EvaluationCounts {
  std::string checkpoint;  // EmotionClassifier::describe()
  std::string shards;
  std::string split;
  std::string tta;         // its name, as printed
  std::string arithmetic;  // the classifier's --precision (f32, bf16), as printed
  double seconds = 0;
  std::vector<PredictionRow> predictions;  // on rank 0, in split order, when asked

  // Every figure as JSON: accuracy, top-2, loss, per-class precision / recall / F1 /
  // support, macro and weighted averages, confusion matrix (counts and row-normalised).
  nlohmann::json to_json() const;
};

// Collective over `group` (every rank calls it with the same arguments).
EvaluationReport evaluate_split(const EmotionClassifier& classifier,
                                const EvaluationOptions& options, ProcessGroup& group);

// Renderings of a report.
std::string report_table(const EvaluationReport& report);
std::string report_csv(const EvaluationReport& report);  // one row per class + averages
std::string comparison_table(const std::vector<EvaluationReport>& reports);
std::string predictions_csv(const EvaluationReport& report);
std::string confusion_csv(const EvaluationReport& report);  // counts, rows = true class
// Labelled heat map of the row-normalised confusion matrix (counts in the cells).
void write_confusion_png(const EvaluationReport& report, const std::filesystem::path& file);

}  // namespace fer
