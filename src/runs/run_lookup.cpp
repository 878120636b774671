#include "runs/run_lookup.hpp"

#include <cstdio>
#include <regex>
#include <vector>

#include "common/error.hpp"
#include "runs/run_directory.hpp"

namespace fer::runs {
namespace fs = std::filesystem;

std::string checkpoint_file_name(int epoch) {
  char name[32];
  std::snprintf(name, sizeof name, "epoch-%04d.pt", epoch);
  return name;
}

const char* pointer_file(Pointer pointer) {
  return pointer == Pointer::kBest ? kBestPointer : kLatestPointer;
}

bool is_default_run_name(const std::string& name, const std::string& config_name) {
  static const std::regex kStamp("-[0-9]{8}-[0-9]{6}");
  return name.size() == config_name.size() + 16 && name.rfind(config_name, 0) == 0 &&
         std::regex_match(name.substr(config_name.size()), kStamp);
}

std::optional<fs::path> newest_run(const fs::path& checkpoints_dir, Pointer pointer,
                                   const std::string& config_name) {
  std::optional<fs::path> newest;
  fs::file_time_type newest_time{};
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(checkpoints_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!config_name.empty() && !is_default_run_name(name, config_name)) continue;
    if (!fs::exists(entry.path() / pointer_file(pointer), ec)) continue;
    const auto time = fs::last_write_time(entry.path() / kManifestFile, ec);
    if (ec) continue;
    if (!newest || time > newest_time) {
      newest = entry.path();
      newest_time = time;
    }
  }
  return newest;
}

fs::path resolve_checkpoint(const std::string& spec, const fs::path& checkpoints_dir,
                            Pointer preferred) {
  if (spec == "best" || spec == "latest") {
    const Pointer pointer = spec == "best" ? Pointer::kBest : Pointer::kLatest;
    if (auto run = newest_run(checkpoints_dir, pointer)) return *run / pointer_file(pointer);
    throw InputError("checkpoint '" + spec + "': no run under " + checkpoints_dir.string() +
                     " has a " + pointer_file(pointer) +
                     " (train first, or name a checkpoint file or run)");
  }
  const Pointer other = preferred == Pointer::kBest ? Pointer::kLatest : Pointer::kBest;
  std::vector<std::string> tried;
  for (const fs::path& candidate : {fs::path(spec), checkpoints_dir / spec}) {
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return candidate;
    if (fs::is_directory(candidate, ec)) {
      for (const Pointer pointer : {preferred, other})
        if (fs::exists(candidate / pointer_file(pointer), ec))
          return candidate / pointer_file(pointer);
      throw InputError(candidate.string() + ": run directory without a checkpoint (no " +
                       kLatestPointer + " or " + kBestPointer + ")");
    }
    tried.push_back(candidate.string());
    if (checkpoints_dir.empty() || fs::path(spec).is_absolute()) break;
  }
  throw InputError("checkpoint '" + spec + "' not found (tried " + tried.front() +
                   (tried.size() > 1 ? " and " + tried.back() : std::string()) +
                   "; or use best / latest)");
}

bool verify_in_run(const fs::path& checkpoint) {
  std::error_code ec;
  const fs::path resolved = fs::canonical(checkpoint, ec);
  if (ec) throw InputError(checkpoint.string() + ": cannot resolve checkpoint: " + ec.message());
  const fs::path dir = resolved.parent_path();
  if (!fs::exists(dir / kManifestFile, ec)) return false;
  return RunDirectory::open_for_reading(dir).verify(checkpoint);
}

}  // namespace fer::runs
