#include "serve/model_follower.hpp"

#include <opencv2/core.hpp>

#include "common/error.hpp"
#include "common/sha256.hpp"
#include "predict/face_classifier.hpp"
#include "runs/run_lookup.hpp"

namespace fer::serve {
namespace fs = std::filesystem;

namespace {

// EmotionClassifier and the face classifier that batches into it, owned together.
class CheckpointClassifier : public FaceClassifier {
 public:
  CheckpointClassifier(const fs::path& checkpoint, const ClassifierOptions& options, int batch)
      : model_(checkpoint, options), faces_(model_, batch) {
    warm_up(batch);
  }
  void classify(const std::vector<cv::Mat>& faces, std::vector<Probabilities>& out) override {
    faces_.classify(faces, out);
  }
  const EmotionClassifier& model() const { return model_; }

 private:
  // One forward pass of every size the micro-batcher can form (1..batch faces), before
  // the model serves: the inference kernels build oneDNN primitives and grow their
  // buffers per batch size (milliseconds each), which would otherwise land on the first
  // request of each size and add memory over the first hours of traffic (+9.8 MiB over
  // 94,197 requests at 32 connections, as rare large batches turned up).
  void warm_up(int batch) {
    std::vector<cv::Mat> faces;
    std::vector<Probabilities> out;
    for (int count = 1; count <= batch; ++count) {
      faces.assign(static_cast<std::size_t>(count),
                   cv::Mat(model_.input_side(), model_.input_side(), CV_8UC1, cv::Scalar(128)));
      faces_.classify(faces, out);
    }
  }

  EmotionClassifier model_;
  ModelFaceClassifier faces_;
};

}  // namespace

std::shared_ptr<const ServedModel> load_served_model(const fs::path& checkpoint,
                                                     const ClassifierOptions& classifier,
                                                     int batch_size) {
  auto loaded = std::make_shared<CheckpointClassifier>(checkpoint, classifier, batch_size);
  auto served = std::make_shared<ServedModel>();
  const fs::path file = fs::weakly_canonical(checkpoint);
  served->labels.file = file.filename().string();
  // A checkpoint inside a run directory (one with a manifest) names its run.
  if (fs::exists(file.parent_path() / runs::kManifestFile))
    served->labels.run = file.parent_path().filename().string();
  served->labels.epoch = loaded->model().meta().value("epoch", 0);
  served->labels.sha256 = sha256_file(file);
  served->description = loaded->model().describe();
  served->classifier = std::move(loaded);
  return served;
}

ModelFollower::ModelFollower(FollowOptions options, ServeMetrics* metrics, Log log)
    : options_(std::move(options)), metrics_(metrics), log_(std::move(log)) {
  const Identity identity = identify();
  swap_in(load_served_model(identity.file, options_.classifier, options_.batch_size), identity);
}

ModelFollower::~ModelFollower() {
  {
    std::lock_guard<std::mutex> lock(wait_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const ServedModel> ModelFollower::current() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return current_;
}

ModelFollower::Identity ModelFollower::identify() const {
  const fs::path resolved =
      runs::resolve_checkpoint(options_.checkpoint, options_.checkpoints_dir, runs::Pointer::kBest);
  Identity identity;
  identity.file = fs::canonical(resolved);  // follows best.pt to the epoch file
  identity.modified = fs::last_write_time(identity.file);
  identity.size = fs::file_size(identity.file);
  return identity;
}

void ModelFollower::swap_in(std::shared_ptr<const ServedModel> model, const Identity& identity) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    current_ = std::move(model);
    identity_ = identity;
  }
  if (metrics_) metrics_->set_model(current()->labels);
}

bool ModelFollower::poll() {
  Identity identity;
  try {
    identity = identify();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (identity == identity_) return false;
    }
    auto model = load_served_model(identity.file, options_.classifier, options_.batch_size);
    const std::string previous = current()->description;
    swap_in(std::move(model), identity);
    last_failure_.clear();
    if (metrics_) metrics_->record_reload(true);
    if (log_) log_("now serving " + current()->description + " (was " + previous + ")");
    return true;
  } catch (const std::exception& e) {
    // A pointer that moves while its old file is being deleted, a checkpoint still
    // being written elsewhere: try again next poll, and say it once.
    const std::string failure = e.what();
    if (failure != last_failure_) {
      if (metrics_) metrics_->record_reload(false);
      if (log_) log_("warning: keeping " + current()->description + ": " + failure);
      last_failure_ = failure;
    }
    return false;
  }
}

void ModelFollower::start() {
  if (options_.poll.count() <= 0 || thread_.joinable()) return;
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(wait_mutex_);
    while (!wake_.wait_for(lock, options_.poll, [this] { return stopping_; })) {
      lock.unlock();
      poll();
      lock.lock();
    }
  });
}

}  // namespace fer::serve
