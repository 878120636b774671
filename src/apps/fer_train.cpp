// fer-train: trains the CNN-RNN emotion classifier on fer-shard shards.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "common/command_line.hpp"
#include "common/interrupt.hpp"
#include "common/tool_main.hpp"
#include "config/train_config.hpp"
#include "train/trainer.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "fer-train: trains the hybrid CNN-RNN FER2013 classifier.\n"
      "  fer-train -c configs/tiny.yaml                       train with a preset\n"
      "  fer-train -c configs/cpu.yaml --set optim.lr=0.02     override any key\n"
      "  fer-train -c configs/cpu.yaml --resume auto           continue the newest run of this "
      "config (an error when there is none)\n"
      "  fer-train --help-config                              every key, its default and meaning\n"
      "Data-parallel: the same command under an MPI launcher, one rank per GPU or core group:\n"
      "  bash launch/train.sh -c configs/cpu.yaml             mpirun, ranks and threads chosen\n"
      "  mpirun -np 2 --bind-to core fer-train -c configs/tiny.yaml\n"
      "  sbatch slurm/train.sh -c configs/gpu.yaml            Slurm (srun --mpi=pmix)\n"
      "  (keys under dist: backend, timeout_seconds, buckets, scale_lr; see --help-config)\n"
      "Runs are written to checkpoints/<run>/ (checkpoints, latest.pt, best.pt, manifest.json,\n"
      "metrics.jsonl, config.yaml). Exit codes: 0 ok, 1 failure, 2 bad input or usage, 3 corrupt "
      "data."};
  std::string config_file, run, resume;
  std::vector<std::string> overrides;
  int stop_after = 0;
  bool help_config = false, print_config = false, quiet = false, drop_later = false;
  app.add_option("-c,--config", config_file, "YAML configuration (see configs/)");
  app.add_option("--set", overrides, "Override a key: section.key=value (repeatable)");
  app.add_option("--run", run, "Run name under checkpoint.dir (default: <config>-<date>-<time>)");
  app.add_option("--resume", resume,
                 "auto (newest run of this config, or --run) | checkpoint file | run directory");
  app.add_flag("--drop-later-epochs", drop_later,
               "With --resume from an older checkpoint than the run's latest: delete the run's "
               "later checkpoints and metrics and train them again (refused without it)");
  app.add_option("--stop-after-epoch", stop_after,
                 "Stop after this epoch as if interrupted (schedules keep the full length)")
      ->check(fer::cli::at_least(0));
  app.add_flag("--help-config", help_config,
               "List every configuration key with its default and meaning");
  app.add_flag("--print-config", print_config, "Print the effective configuration and exit");
  app.add_flag("-q,--quiet", quiet, "No progress output");
  if (const auto code = fer::cli::parse(app, argc, argv, "fer-train")) return *code;

  // Joins the MPI job when started by mpirun/srun (a world of one otherwise). From
  // then on a failure on one rank ends the whole job (see ProcessGroup).
  std::optional<fer::ProcessGroup> group;
  const int code = fer::run_tool("fer-train", [&] {
    if (help_config) {
      std::cout << fer::config_reference();
      return fer::kExitOk;
    }
    fer::TrainRequest request;
    if (!config_file.empty()) {
      fer::apply_config_file(request.config, config_file);
      request.config_name = std::filesystem::path(config_file).stem().string();
    }
    for (const auto& assignment : overrides) fer::apply_override(request.config, assignment);
    fer::validate(request.config);
    if (print_config) {
      std::cout << fer::to_yaml(request.config);
      return fer::kExitOk;
    }
    request.run = run;
    request.resume = resume;
    request.stop_after_epoch = stop_after;
    request.drop_later_epochs = drop_later;
    request.progress = !quiet;
    // A bad command line or config fails above on every rank alike, before MPI, and
    // mpirun ends the job on the first non-zero exit.
    group.emplace(&argc, &argv);
    request.group = &*group;
    fer::install_interrupt_handlers();  // after MPI_Init: Open MPI installs its own first
    const fer::TrainResult result = fer::train(request);
    if (group->rank() == 0)
      std::printf("fer-train: %d epochs in %s; best val accuracy %.2f%% (epoch %d)\n",
                  result.epochs_completed, result.run_dir.c_str(), 100 * result.best_val_accuracy,
                  result.best_epoch);
    return fer::kExitOk;
  });
  group.reset();  // MPI_Finalize on every rank after a normal or job-wide end
  return code;
}
