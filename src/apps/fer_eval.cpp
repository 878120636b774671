// fer-eval: scores checkpoints on a split of a shard directory.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "common/atomic_output.hpp"
#include "common/command_line.hpp"
#include "common/parallel.hpp"
#include "common/tool_main.hpp"
#include "dist/process_group.hpp"
#include "evaluation/split_evaluation.hpp"

namespace fs = std::filesystem;

namespace {

// "checkpoints/tiny-20261125-101010/epoch-0008.pt" -> "tiny-20261125-101010-epoch-0008"
std::string output_name(const fs::path& checkpoint) {
  const fs::path resolved = fs::weakly_canonical(checkpoint);
  std::string name = resolved.parent_path().filename().string() + "-" + resolved.stem().string();
  std::replace_if(
      name.begin(), name.end(),
      [](char c) {
        return !std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.';
      },
      '_');
  return name;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fer-eval: scores fer-train checkpoints on a split of a shard directory: accuracy, top-2\n"
      "accuracy, mean loss, per-class precision/recall/F1/support, macro and weighted averages,\n"
      "confusion matrix.\n"
      "  fer-eval --checkpoint best                              best.pt of the newest run, on "
      "val\n"
      "  fer-eval --checkpoint checkpoints/RUN --split test --tta tencrop --out eval/\n"
      "  fer-eval --checkpoint a.pt --checkpoint b.pt --format json       several: a comparison\n"
      "  mpirun -np 2 fer-eval --checkpoint best                 ranks split the images; same "
      "numbers\n"
      "The test split is scored only when asked (--split test); choose models on val.\n"
      "Exit codes: 0 ok, 1 failure, 2 bad input or usage, 3 corrupt data."};
  std::vector<std::string> checkpoints;
  std::string shards, split = "val", tta = "auto", output_format = "table", out_dir;
  fer::DeviceChoice device = fer::DeviceChoice::kAuto;
  fer::InferencePrecision precision = fer::InferencePrecision::kF32;
  std::string checkpoints_dir = "checkpoints";
  int batch = 256, threads = 0;
  bool predictions = false, quiet = false;
  app.add_option("-k,--checkpoint", checkpoints,
                 "best | latest (newest run's) | run directory or name (its best.pt) | .pt file; "
                 "repeat to compare")
      ->required();
  app.add_option("--shards", shards, "Shard directory (default: the checkpoint's data.shards)");
  app.add_option("--split", split, "val | test | train")
      ->check(CLI::IsMember({"val", "test", "train"}));
  std::vector<std::string> tta_values = {"auto"};
  for (const std::string& name : fer::choice_names<fer::EvalTta>()) tta_values.push_back(name);
  app.add_option("--tta", tta,
                 "Test-time augmentation: auto (the checkpoint's augment.eval_tta) | "
                 "none | flip | shifts | tencrop")
      ->check(CLI::IsMember(tta_values));
  app.add_option("--format", output_format, "table | json | csv")
      ->check(CLI::IsMember({"table", "json", "csv"}));
  app.add_option("--out", out_dir,
                 "Write metrics.json, confusion_matrix.csv, confusion_matrix.png (and "
                 "predictions.csv) here");
  app.add_flag("--predictions", predictions,
               "With --out: also predictions.csv (one row per image)");
  app.add_option("--checkpoints-dir", checkpoints_dir,
                 "Where runs live (for best, latest, run names)");
  app.add_option("--batch", batch, "Images per forward pass")->check(fer::cli::above(0));
  app.add_option("--threads", threads, "Intra-op threads per rank (0: cores / ranks on this node)");
  fer::cli::add_choice(app, "--device", device, "auto | cpu | cuda");
  fer::cli::add_choice(app, "--precision", precision, fer::kInferencePrecisionHelp);
  app.add_flag("-q,--quiet", quiet, "No progress output");
  if (const auto code = fer::cli::parse(app, argc, argv, "fer-eval")) return *code;

  std::optional<fer::ProcessGroup> group;
  const int code = fer::run_tool("fer-eval", [&] {
    if (predictions && out_dir.empty())
      throw fer::InputError("--predictions writes predictions.csv into --out DIR; give --out");
    group.emplace(&argc, &argv);
    const bool leader = group->rank() == 0;
    fer::ClassifierOptions classifier_options;
    classifier_options.device = device;
    classifier_options.precision = precision;
    classifier_options.threads = fer::threads_per_process(threads, group->local_size());
    std::vector<fer::EvaluationReport> reports;
    std::vector<fs::path> files;
    for (const std::string& spec : checkpoints) {
      const fs::path file = fer::resolve_model_checkpoint(spec, checkpoints_dir);
      const fer::EmotionClassifier classifier(file, classifier_options);
      fer::EvaluationOptions options;
      options.shards =
          shards.empty() ? fs::path(classifier.config().data.shards) : fs::path(shards);
      options.split = *fer::split_from_name(split);
      options.tta = tta == "auto" ? classifier.config().augment.eval_tta
                                  : fer::parse_choice<fer::EvalTta>(tta, "--tta");
      options.batch_size = batch;
      options.keep_predictions = predictions;
      options.progress = !quiet && output_format == "table";
      if (leader && !quiet)
        std::fprintf(
            stderr, "fer-eval: %s on %s (%s split, tta %s, %d rank%s x %d threads, %s, %s)\n",
            classifier.describe().c_str(), options.shards.c_str(), split.c_str(),
            std::string(fer::name_of(options.tta)).c_str(), group->size(),
            group->size() == 1 ? "" : "s", classifier_options.threads, classifier.device().c_str(),
            std::string(fer::name_of(classifier.precision())).c_str());
      reports.push_back(fer::evaluate_split(classifier, options, *group));
      files.push_back(file);
    }
    if (!leader) return fer::kExitOk;

    if (output_format == "json") {
      nlohmann::json all = nlohmann::json::array();
      for (const auto& report : reports) all.push_back(report.to_json());
      std::cout << (all.size() == 1 ? all[0] : all).dump(2) << "\n";
    } else if (output_format == "csv") {
      for (std::size_t i = 0; i < reports.size(); ++i) {
        std::string text = fer::report_csv(reports[i]);
        if (i > 0) text = text.substr(text.find('\n') + 1);  // one header
        std::cout << text;
      }
    } else {
      for (const auto& report : reports) std::cout << fer::report_table(report) << "\n";
      if (reports.size() > 1)
        std::cout << "comparison (" << split << " split)\n" << fer::comparison_table(reports);
    }

    if (!out_dir.empty()) {
      for (std::size_t i = 0; i < reports.size(); ++i) {
        const fs::path dir =
            reports.size() == 1 ? fs::path(out_dir) : fs::path(out_dir) / output_name(files[i]);
        fs::create_directories(dir);
        fer::write_file_atomically(dir / "metrics.json", reports[i].to_json().dump(2) + "\n");
        fer::write_file_atomically(dir / "confusion_matrix.csv", fer::confusion_csv(reports[i]));
        fer::write_confusion_png(reports[i], dir / "confusion_matrix.png");
        if (predictions)
          fer::write_file_atomically(dir / "predictions.csv", fer::predictions_csv(reports[i]));
        if (!quiet) std::fprintf(stderr, "fer-eval: wrote %s/\n", dir.c_str());
      }
    }
    return fer::kExitOk;
  });
  group.reset();
  return code;
}
