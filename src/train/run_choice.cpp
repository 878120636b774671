#include "train/run_choice.hpp"

#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>

#include "common/error.hpp"
#include "runs/run_control.hpp"
#include "runs/run_lookup.hpp"

namespace fer {
namespace fs = std::filesystem;

namespace {

std::string timestamp_now() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%d-%H%M%S", std::localtime(&now));
  return text;
}

// The checkpoint that --resume names, if any.
std::optional<fs::path> resume_source(const TrainRequest& request,
                                      const fs::path& checkpoints_dir) {
  const std::string& run = request.run;
  if (request.resume.empty()) return std::nullopt;
  if (request.resume != "auto")
    return runs::resolve_checkpoint(request.resume, checkpoints_dir, runs::Pointer::kLatest);
  // Nothing to resume is an error, never a silent new run: the coordinator would
  // otherwise be asked to start over a run it may hold.
  if (!run.empty()) {
    if (!fs::exists(checkpoints_dir / run / runs::kLatestPointer))
      throw InputError("--resume auto --run " + run + ": " + (checkpoints_dir / run).string() +
                       " has no " + runs::kLatestPointer + " (checkpoint.dir is " +
                       checkpoints_dir.string() +
                       "; with an external coordinator it must be the coordinator's "
                       "--checkpoints directory, or pass --resume FILE)");
    return checkpoints_dir / run / runs::kLatestPointer;
  }
  if (auto newest = runs::newest_run(checkpoints_dir, runs::Pointer::kLatest, request.config_name))
    return *newest / runs::kLatestPointer;
  throw InputError("--resume auto: no run of config '" + request.config_name +
                   "' with a checkpoint under " + checkpoints_dir.string() +
                   " (start one without --resume, or name it with --run)");
}

std::string read_checkpoint_bytes(const fs::path& path) {
  // Checked against the manifest of the run it belongs to, before loading.
  if (!runs::verify_in_run(path))
    std::cout << "note: " << path.string()
              << " is not listed in a run manifest; its SHA-256 cannot be checked\n";
  std::ifstream file(path, std::ios::binary);
  std::string bytes{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  if (!file.good() && !file.eof()) throw InputError(path.string() + ": cannot read the checkpoint");
  return bytes;
}

}  // namespace

RunChoice choose_run(const TrainRequest& request, const fs::path& checkpoints_dir) {
  RunChoice choice;
  choice.run = request.run;
  choice.resume_from = resume_source(request, checkpoints_dir);
  // The run directory the checkpoint came from (symlinks resolved).
  std::optional<fs::path> source_dir;
  if (choice.resume_from) {
    std::error_code ec;
    const fs::path resolved = fs::canonical(*choice.resume_from, ec);
    if (ec)
      throw InputError(choice.resume_from->string() +
                       ": cannot resolve checkpoint: " + ec.message());
    source_dir = resolved.parent_path();
    if (choice.run.empty()) choice.run = source_dir->filename().string();
  }
  if (choice.run.empty()) choice.run = request.config_name + "-" + timestamp_now();
  const fs::path target_dir = checkpoints_dir / choice.run;
  if (fs::exists(target_dir / runs::kLatestPointer)) {
    // A run directory with checkpoints only continues itself: never mixed with another
    // run's history.
    std::error_code ec;
    const bool same_run = source_dir && fs::equivalent(*source_dir, target_dir, ec);
    if (!same_run)
      throw InputError(target_dir.string() + " already holds checkpoints" +
                       (choice.resume_from ? " of another run than " + choice.resume_from->string()
                                           : std::string()) +
                       "; continue it with --resume auto, or choose another --run");
  }
  // The run's own secret: read where the run is continued (the files are the proof of
  // ownership; an older run gets one now), created for a new run.
  std::error_code ec;
  fs::create_directories(target_dir, ec);
  if (ec) throw InputError(target_dir.string() + ": cannot create: " + ec.message());
  if (auto secret = runs::read_run_secret(target_dir)) {
    choice.secret = *secret;
  } else {
    choice.secret = runs::random_secret();
    runs::write_run_secret(target_dir, choice.secret);
  }
  if (choice.resume_from) choice.checkpoint_bytes = read_checkpoint_bytes(*choice.resume_from);
  return choice;
}

void share_run_choice(RunChoice& choice, ProcessGroup& group) {
  group.broadcast(choice.run, 0, "sharing the run name");
  group.broadcast(choice.secret, 0, "sharing the run's secret");
  std::string resume_text = choice.resume_from ? choice.resume_from->string() : std::string();
  group.broadcast(resume_text, 0, "sharing the checkpoint path");
  choice.resume_from.reset();
  if (!resume_text.empty()) choice.resume_from = fs::path(resume_text);
  group.broadcast(choice.checkpoint_bytes, 0, "sharing the checkpoint to resume from");
}

}  // namespace fer
