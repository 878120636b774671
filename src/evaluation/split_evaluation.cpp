#include "evaluation/split_evaluation.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>

#include "common/error.hpp"
#include "data/shard_reader.hpp"
#include "dist/evaluation_sum.hpp"
#include "pipeline/augment.hpp"
#include "pipeline/batch_loader.hpp"

namespace fer {
namespace {

using nlohmann::json;

std::string format(const char* pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

struct Averages {
  ClassMetrics macro, weighted;
};

// sklearn's "macro avg" and "weighted avg" over all 7 classes.
Averages averages_of(const ConfusionMatrix& matrix) {
  Averages a;
  std::int64_t support = 0;
  for (int c = 0; c < kNumEmotions; ++c) {
    const ClassMetrics m = matrix.class_metrics(c);
    const double w = static_cast<double>(m.support);
    a.macro.precision += m.precision / kNumEmotions;
    a.macro.recall += m.recall / kNumEmotions;
    a.macro.f1 += m.f1 / kNumEmotions;
    a.weighted.precision += m.precision * w;
    a.weighted.recall += m.recall * w;
    a.weighted.f1 += m.f1 * w;
    support += m.support;
  }
  if (support > 0) {
    a.weighted.precision /= static_cast<double>(support);
    a.weighted.recall /= static_cast<double>(support);
    a.weighted.f1 /= static_cast<double>(support);
  }
  a.macro.support = a.weighted.support = support;
  return a;
}

json metrics_json(const ClassMetrics& m) {
  return {{"precision", m.precision}, {"recall", m.recall}, {"f1", m.f1}, {"support", m.support}};
}

// A prediction row as one CSV-like line for the gather to rank 0.
std::string encode(const PredictionRow& row) {
  std::string line = std::to_string(row.index) + "," + std::to_string(row.truth) + "," +
                     std::to_string(row.predicted);
  for (double p : row.probabilities) line += "," + format("%.9g", p);
  return line + "\n";
}

PredictionRow decode(const std::string& line) {
  PredictionRow row;
  std::istringstream fields(line);
  std::string field;
  std::getline(fields, field, ',');
  row.index = std::stoull(field);
  std::getline(fields, field, ',');
  row.truth = std::stoi(field);
  std::getline(fields, field, ',');
  row.predicted = std::stoi(field);
  while (std::getline(fields, field, ',')) row.probabilities.push_back(std::stod(field));
  return row;
}

std::string csv_quote(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

}  // namespace

EvaluationReport evaluate_split(const EmotionClassifier& classifier,
                                const EvaluationOptions& options, ProcessGroup& group) {
  const auto start = std::chrono::steady_clock::now();
  EvaluationReport report;
  report.checkpoint = classifier.describe();
  report.shards = options.shards.string();
  report.split = std::string(split_name(options.split));
  report.tta = std::string(name_of(options.tta));
  report.arithmetic = std::string(name_of(classifier.precision()));

  AugmentConfig augment = classifier.config().augment;
  augment.eval_tta = options.tta;
  if (augment.eval_tta == EvalTta::kTencrop && augment.crop_size == 0)
    throw InputError("--tta tencrop needs a model trained on crops (augment.crop_size > 0); " +
                     classifier.path().string() + " was trained on whole 48x48 images");

  ShardDataset dataset(options.shards);
  SplitReader& reader = dataset.split(options.split);
  if (reader.size() == 0)
    throw InputError(options.shards.string() + ": the " + report.split + " split is empty");

  LoaderOptions loader_options;
  loader_options.training = false;
  loader_options.batch_size = options.batch_size;
  loader_options.threads = options.loader_threads;
  loader_options.augment = augment;
  loader_options.rank = group.rank();
  loader_options.world = group.size();
  BatchLoader loader(reader, loader_options);
  loader.start_epoch(0);

  std::vector<float> logits(static_cast<std::size_t>(options.batch_size) * kNumEmotions);
  std::string encoded;  // this rank's prediction rows
  std::size_t done = 0;
  const std::size_t total = loader.samples_per_epoch();
  while (auto batch = loader.next()) {
    classifier.logits(batch->images, batch->size, batch->views, logits.data());
    for (int k = 0; k < batch->size; ++k) {
      const float* row = logits.data() + static_cast<std::size_t>(k) * kNumEmotions;
      const int truth = static_cast<int>(batch->labels[k]);
      const int predicted = static_cast<int>(std::max_element(row, row + kNumEmotions) - row);
      const std::vector<double> p = softmax(row, kNumEmotions);
      report.loss_sum -= std::log(std::max(p[static_cast<std::size_t>(truth)], 1e-300));
      int higher = 0;  // classes ranked above the true one
      for (int c = 0; c < kNumEmotions; ++c) higher += row[c] > row[truth] ? 1 : 0;
      report.top2_correct += higher < 2 ? 1 : 0;
      report.matrix.add(truth, predicted);
      ++report.images;
      if (options.keep_predictions) encoded += encode({batch->indices[k], "", truth, predicted, p});
    }
    done += static_cast<std::size_t>(batch->size);
    if (options.progress && group.rank() == 0) {
      std::fprintf(stderr, "\r  %s: %zu/%zu images (rank 0)", report.split.c_str(), done, total);
      if (done == total) std::fprintf(stderr, "\n");
    }
  }

  // Exact sums over ranks: every image was scored by exactly one rank.
  sum_over_ranks(report, group, "evaluation");

  if (options.keep_predictions) {
    const auto parts = group.gather(encoded, 0, "evaluation predictions");
    if (group.rank() == 0) {
      const std::vector<std::string> sources = reader.sources();
      for (const std::string& part : parts) {
        std::istringstream lines(part);
        std::string line;
        while (std::getline(lines, line))
          if (!line.empty()) report.predictions.push_back(decode(line));
      }
      std::sort(report.predictions.begin(), report.predictions.end(),
                [](const PredictionRow& a, const PredictionRow& b) { return a.index < b.index; });
      for (PredictionRow& row : report.predictions)
        row.source = row.index < sources.size() ? sources[row.index] : std::to_string(row.index);
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

json EvaluationReport::to_json() const {
  json classes = json::array();
  for (int c = 0; c < kNumEmotions; ++c) {
    json entry = metrics_json(matrix.class_metrics(c));
    entry["name"] = std::string(kEmotionNames[static_cast<std::size_t>(c)]);
    classes.push_back(entry);
  }
  const Averages a = averages_of(matrix);
  json counts = json::array(), normalized = json::array();
  for (int t = 0; t < kNumEmotions; ++t) {
    json row = json::array(), share = json::array();
    std::int64_t support = 0;
    for (int p = 0; p < kNumEmotions; ++p) support += matrix.count(t, p);
    for (int p = 0; p < kNumEmotions; ++p) {
      row.push_back(matrix.count(t, p));
      share.push_back(
          support ? static_cast<double>(matrix.count(t, p)) / static_cast<double>(support) : 0.0);
    }
    counts.push_back(row);
    normalized.push_back(share);
  }
  return {{"checkpoint", checkpoint},
          {"shards", shards},
          {"split", split},
          {"images", images},
          {"tta", tta},
          {"precision", arithmetic},
          {"accuracy", accuracy()},
          {"top2_accuracy", top2_accuracy()},
          {"loss", mean_loss()},
          {"classes", classes},
          {"macro_avg", metrics_json(a.macro)},
          {"weighted_avg", metrics_json(a.weighted)},
          {"labels", json(std::vector<std::string>(kEmotionNames.begin(), kEmotionNames.end()))},
          {"confusion_matrix", counts},
          {"confusion_matrix_normalized", normalized},
          {"seconds", seconds},
          {"images_per_second", seconds > 0 ? static_cast<double>(images) / seconds : 0.0}};
}

std::string report_table(const EvaluationReport& report) {
  std::ostringstream out;
  out << "checkpoint: " << report.checkpoint << "\n"
      << "data:       " << report.shards << ", split '" << report.split << "', " << report.images
      << " images, test-time augmentation: " << report.tta << "\n\n";
  char line[256];
  std::snprintf(line, sizeof line, "accuracy %.2f%%   top-2 accuracy %.2f%%   mean loss %.4f\n\n",
                100 * report.accuracy(), 100 * report.top2_accuracy(), report.mean_loss());
  out << line;
  std::snprintf(line, sizeof line, "%-14s %9s %9s %9s %9s\n", "class", "precision", "recall", "f1",
                "support");
  out << line;
  const auto row = [&](const std::string& name, const ClassMetrics& m) {
    std::snprintf(line, sizeof line, "%-14s %9.4f %9.4f %9.4f %9lld\n", name.c_str(), m.precision,
                  m.recall, m.f1, static_cast<long long>(m.support));
    out << line;
  };
  for (int c = 0; c < kNumEmotions; ++c)
    row(std::string(kEmotionNames[static_cast<std::size_t>(c)]), report.matrix.class_metrics(c));
  const Averages a = averages_of(report.matrix);
  out << "\n";
  row("macro avg", a.macro);
  row("weighted avg", a.weighted);

  out << "\nconfusion matrix (rows: true class, columns: predicted; counts | row %)\n";
  std::snprintf(line, sizeof line, "%-10s", "");
  out << line;
  for (int p = 0; p < kNumEmotions; ++p) {
    std::snprintf(line, sizeof line, "%8.7s",
                  std::string(kEmotionNames[static_cast<std::size_t>(p)]).c_str());
    out << line;
  }
  out << "  |";
  for (int p = 0; p < kNumEmotions; ++p) {
    std::snprintf(line, sizeof line, "%6.5s",
                  std::string(kEmotionNames[static_cast<std::size_t>(p)]).c_str());
    out << line;
  }
  out << "\n";
  for (int t = 0; t < kNumEmotions; ++t) {
    std::snprintf(line, sizeof line, "%-10s",
                  std::string(kEmotionNames[static_cast<std::size_t>(t)]).c_str());
    out << line;
    std::int64_t support = 0;
    for (int p = 0; p < kNumEmotions; ++p) {
      support += report.matrix.count(t, p);
      std::snprintf(line, sizeof line, "%8lld", static_cast<long long>(report.matrix.count(t, p)));
      out << line;
    }
    out << "  |";
    for (int p = 0; p < kNumEmotions; ++p) {
      const double share = support ? 100.0 * static_cast<double>(report.matrix.count(t, p)) /
                                         static_cast<double>(support)
                                   : 0.0;
      std::snprintf(line, sizeof line, "%6.1f", share);
      out << line;
    }
    out << "\n";
  }
  return out.str();
}

std::string report_csv(const EvaluationReport& report) {
  std::ostringstream out;
  out << "checkpoint,split,images,tta,class,precision,recall,f1,support\n";
  const std::string prefix = csv_quote(report.checkpoint) + "," + report.split + "," +
                             std::to_string(report.images) + "," + report.tta + ",";
  const auto row = [&](const std::string& name, const ClassMetrics& m) {
    out << prefix << name << "," << format("%.6f", m.precision) << "," << format("%.6f", m.recall)
        << "," << format("%.6f", m.f1) << "," << m.support << "\n";
  };
  for (int c = 0; c < kNumEmotions; ++c)
    row(std::string(kEmotionNames[static_cast<std::size_t>(c)]), report.matrix.class_metrics(c));
  const Averages a = averages_of(report.matrix);
  row("macro avg", a.macro);
  row("weighted avg", a.weighted);
  ClassMetrics overall;
  overall.precision = overall.recall = overall.f1 = report.accuracy();
  overall.support = report.images;
  row("accuracy", overall);
  return out.str();
}

std::string comparison_table(const std::vector<EvaluationReport>& reports) {
  std::ostringstream out;
  char line[512];
  std::snprintf(line, sizeof line, "%-4s %9s %9s %9s %9s %9s  %s\n", "#", "accuracy", "top-2",
                "loss", "macro F1", "wtd F1", "checkpoint");
  out << line;
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const auto& r = reports[i];
    const Averages a = averages_of(r.matrix);
    std::snprintf(line, sizeof line, "%-4zu %8.2f%% %8.2f%% %9.4f %9.4f %9.4f  %s\n", i + 1,
                  100 * r.accuracy(), 100 * r.top2_accuracy(), r.mean_loss(), a.macro.f1,
                  a.weighted.f1, r.checkpoint.c_str());
    out << line;
  }
  return out.str();
}

std::string confusion_csv(const EvaluationReport& report) {
  std::string text = "true\\predicted";
  for (const auto& name : kEmotionNames) text += "," + std::string(name);
  text += "\n";
  for (int t = 0; t < kNumEmotions; ++t) {
    text += std::string(kEmotionNames[static_cast<std::size_t>(t)]);
    for (int p = 0; p < kNumEmotions; ++p) text += "," + std::to_string(report.matrix.count(t, p));
    text += "\n";
  }
  return text;
}

std::string predictions_csv(const EvaluationReport& report) {
  std::ostringstream out;
  out << "index,source,true_label,predicted_label,true_name,predicted_name";
  for (const auto& name : kEmotionNames) out << ",p_" << name;
  out << "\n";
  for (const PredictionRow& row : report.predictions) {
    out << row.index << "," << csv_quote(row.source) << "," << row.truth << "," << row.predicted
        << "," << kEmotionNames[static_cast<std::size_t>(row.truth)] << ","
        << kEmotionNames[static_cast<std::size_t>(row.predicted)];
    for (double p : row.probabilities) out << "," << format("%.6f", p);
    out << "\n";
  }
  return out.str();
}

}  // namespace fer
