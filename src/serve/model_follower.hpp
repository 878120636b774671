#pragma once
// The model fer-serve answers with, and hot reload: `--checkpoint` is resolved as
// fer-predict resolves it (runs/run_lookup.hpp: best | latest | run | file), and
// resolved again every poll. When it names a different file (the trainer or the
// coordinator moved the run's best.pt) or the file changed, the new checkpoint is
// loaded beside the old one, checked against its run's manifest, and swapped in.
// Requests already in a batch finish on the model they started with; a checkpoint
// that cannot be loaded is reported and the old model stays.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "inference/emotion_classifier.hpp"
#include "serve/micro_batcher.hpp"
#include "serve/serve_metrics.hpp"

namespace fer::serve {

struct FollowOptions {
  std::string checkpoint = "best";  // as fer-predict --checkpoint
  std::filesystem::path checkpoints_dir = "checkpoints";
  ClassifierOptions classifier;
  int batch_size = 64;                   // faces per forward pass inside the model
  std::chrono::milliseconds poll{1000};  // 0: load once, never reload
};

// A loaded checkpoint as a ServedModel (EmotionClassifier + batched face classifier).
std::shared_ptr<const ServedModel> load_served_model(const std::filesystem::path& checkpoint,
                                                     const ClassifierOptions& classifier,
                                                     int batch_size);

class ModelFollower {
 public:
  using Log = std::function<void(const std::string&)>;
  // Loads the model at once (throws InputError or CorruptDataError as fer-predict does).
  ModelFollower(FollowOptions options, ServeMetrics* metrics, Log log);
  ~ModelFollower();
  ModelFollower(const ModelFollower&) = delete;
  ModelFollower& operator=(const ModelFollower&) = delete;

  std::shared_ptr<const ServedModel> current() const;
  // Resolves the checkpoint again; loads and swaps when it moved or changed. True when
  // a new model was swapped in. Never throws (failures are logged and counted).
  bool poll();
  // Polls every options.poll on a thread of its own until destruction (no-op for 0).
  void start();

 private:
  struct Identity {
    std::filesystem::path file;  // canonical
    std::filesystem::file_time_type modified;
    std::uintmax_t size = 0;
    bool operator==(const Identity& other) const {
      return file == other.file && modified == other.modified && size == other.size;
    }
  };
  Identity identify() const;  // throws when the spec does not resolve
  void swap_in(std::shared_ptr<const ServedModel> model, const Identity& identity);

  FollowOptions options_;
  ServeMetrics* metrics_;
  Log log_;
  mutable std::mutex mutex_;
  std::shared_ptr<const ServedModel> current_;
  Identity identity_;
  std::string last_failure_;  // logged once until it changes
  std::mutex wait_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace fer::serve
