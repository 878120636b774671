#pragma once
// Finding runs and checkpoints under checkpoints/: the one place that knows the names
// of the run store (runs/run_directory.hpp writes them) and how a command line names
// a checkpoint. fer-train, fer-eval, fer-predict and fer-serve all resolve through it,
// so `--checkpoint run-a` means the same file everywhere it is accepted.

#include <filesystem>
#include <optional>
#include <string>

namespace fer::runs {

inline constexpr const char* kLatestPointer = "latest.pt";
inline constexpr const char* kBestPointer = "best.pt";
inline constexpr const char* kManifestFile = "manifest.json";

// The file of the checkpoint after `epoch`: epoch-0007.pt.
std::string checkpoint_file_name(int epoch);

// Which pointer a run directory named on the command line stands for.
enum class Pointer { kLatest, kBest };
const char* pointer_file(Pointer pointer);

// True for the names fer-train gives runs by default: <config>-YYYYmmdd-HHMMSS.
bool is_default_run_name(const std::string& name, const std::string& config_name);

// The newest run directory (by its manifest's time) under `checkpoints_dir` that holds
// `pointer`; with `config_name`, only runs named by default for that config.
std::optional<std::filesystem::path> newest_run(const std::filesystem::path& checkpoints_dir,
                                                Pointer pointer,
                                                const std::string& config_name = "");

// A checkpoint named on the command line:
//   best | latest       that pointer of the newest run that has it
//   FILE                a checkpoint file
//   DIR or RUN          a run directory (or a run under `checkpoints_dir`): `preferred`,
//                       else the other pointer
// Throws InputError naming everything that was tried.
std::filesystem::path resolve_checkpoint(const std::string& spec,
                                         const std::filesystem::path& checkpoints_dir,
                                         Pointer preferred);

// Checks a checkpoint file against the manifest of the run directory it lies in
// (symlinks resolved): throws CorruptDataError naming the file when its size or
// SHA-256 differ from the record; returns false when no run manifest lists it (a
// file copied out of its run), true when it matched.
bool verify_in_run(const std::filesystem::path& checkpoint);

}  // namespace fer::runs
