#pragma once
// Dynamic micro-batching, as Triton's and TorchServe's request batching do it: the
// faces of concurrent requests wait on one queue, and one thread runs them through the
// network together once `max_faces` faces wait or the oldest has waited `max_wait`,
// whichever comes first, or at once when no other request is on its way (every request
// in flight is queued). A lone client adds no wait; under load a forward pass carries
// many requests, which is what makes batched inference fast on a CPU.
//
// Each batch takes the model that is current when it starts (ModelSource), and keeps
// it alive until its answers are out: a hot reload swaps models between batches and
// never drops or mixes a request.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <opencv2/core.hpp>
#include <string>
#include <thread>
#include <vector>

#include "predict/face_classifier.hpp"
#include "serve/serve_metrics.hpp"

namespace fer::serve {

// A model ready to serve, and what the answers say about it.
struct ServedModel {
  std::shared_ptr<FaceClassifier> classifier;
  ModelLabels labels;  // run, file, epoch, sha256
  std::string description;
};
using ModelSource = std::function<std::shared_ptr<const ServedModel>()>;

struct BatchOptions {
  std::size_t max_faces = 32;                // faces per forward pass (a request is never split)
  std::chrono::microseconds max_wait{2000};  // from the oldest waiting face
  std::size_t max_queued_faces = 4096;       // beyond this, submit() refuses (503)
  // Start at once when every request in flight (ServeMetrics::in_flight) is queued.
  bool wait_only_for_arrivals = true;
};

// The answer to one request: one Probabilities per face, in order, and the model that
// produced them; or, when the forward pass failed, the reason.
struct BatchResult {
  std::vector<Probabilities> probabilities;
  std::shared_ptr<const ServedModel> model;
  std::string error;
};
using BatchDone = std::function<void(BatchResult)>;

class MicroBatcher {
 public:
  // Starts the batching thread. `metrics` may be null.
  MicroBatcher(ModelSource models, BatchOptions options, ServeMetrics* metrics);
  ~MicroBatcher();  // stops: waiting requests get an error result
  MicroBatcher(const MicroBatcher&) = delete;
  MicroBatcher& operator=(const MicroBatcher&) = delete;

  // Queues the faces (48x48, 8-bit); `done` is called once, on the batching thread.
  // False (and `done` not called) when the queue is full or the batcher stopped.
  bool submit(std::vector<cv::Mat> faces, BatchDone done);
  void stop();

 private:
  struct Job {
    std::vector<cv::Mat> faces;
    BatchDone done;
    std::chrono::steady_clock::time_point queued;
  };
  void run();
  void process(std::vector<Job>& jobs);

  ModelSource models_;
  BatchOptions options_;
  ServeMetrics* metrics_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  std::size_t queued_faces_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace fer::serve
