#include "serve/micro_batcher.hpp"

#include <exception>

namespace fer::serve {

MicroBatcher::MicroBatcher(ModelSource models, BatchOptions options, ServeMetrics* metrics)
    : models_(std::move(models)), options_(options), metrics_(metrics) {
  if (!models_) throw std::invalid_argument("MicroBatcher: no model source");
  if (options_.max_faces == 0) options_.max_faces = 1;
  thread_ = std::thread([this] { run(); });
}

MicroBatcher::~MicroBatcher() {
  stop();
}

void MicroBatcher::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

bool MicroBatcher::submit(std::vector<cv::Mat> faces, BatchDone done) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return false;
    if (queued_faces_ + faces.size() > options_.max_queued_faces && queued_faces_ > 0) return false;
    queued_faces_ += faces.size();
    if (metrics_) metrics_->queued_faces = static_cast<std::int64_t>(queued_faces_);
    queue_.push_back(Job{std::move(faces), std::move(done), std::chrono::steady_clock::now()});
  }
  wake_.notify_one();
  return true;
}

void MicroBatcher::run() {
  std::vector<Job> batch;
  for (;;) {
    batch.clear();
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) break;
      // Wait for company until the batch is full or the oldest face's deadline.
      const auto deadline = queue_.front().queued + options_.max_wait;
      // No use waiting when every request being answered is already queued: nobody
      // else is on the way (a lone client gets no added latency).
      const auto nobody_coming = [&] {
        return options_.wait_only_for_arrivals && metrics_ &&
               metrics_->in_flight.load() <= static_cast<std::int64_t>(queue_.size());
      };
      wake_.wait_until(lock, deadline, [&] {
        return stopping_ || queued_faces_ >= options_.max_faces || nobody_coming();
      });
      if (stopping_) break;
      std::size_t faces = 0;
      while (!queue_.empty() &&
             (batch.empty() || faces + queue_.front().faces.size() <= options_.max_faces)) {
        faces += queue_.front().faces.size();
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_faces_ -= faces;
      if (metrics_) metrics_->queued_faces = static_cast<std::int64_t>(queued_faces_);
    }
    process(batch);
  }
  // Stopped: whoever still waits hears so.
  std::deque<Job> left;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    left.swap(queue_);
    queued_faces_ = 0;
  }
  for (Job& job : left) {
    BatchResult result;
    result.error = "the server is shutting down";
    job.done(std::move(result));
  }
}

void MicroBatcher::process(std::vector<Job>& jobs) {
  std::vector<cv::Mat> faces;
  for (const Job& job : jobs) faces.insert(faces.end(), job.faces.begin(), job.faces.end());
  std::vector<Probabilities> probabilities;
  std::shared_ptr<const ServedModel> model;
  std::string error;
  const auto start = std::chrono::steady_clock::now();
  try {
    model = models_();
    if (!model || !model->classifier) throw std::runtime_error("no model loaded");
    model->classifier->classify(faces, probabilities);
    if (probabilities.size() != faces.size())
      throw std::runtime_error("the classifier answered " + std::to_string(probabilities.size()) +
                               " faces of " + std::to_string(faces.size()));
  } catch (const std::exception& e) {
    error = std::string("forward pass failed: ") + e.what();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (metrics_ && error.empty()) metrics_->record_batch(faces.size(), jobs.size(), seconds);
  std::size_t offset = 0;
  for (Job& job : jobs) {
    BatchResult result;
    result.model = model;
    result.error = error;
    if (error.empty())
      result.probabilities.assign(
          probabilities.begin() + static_cast<std::ptrdiff_t>(offset),
          probabilities.begin() + static_cast<std::ptrdiff_t>(offset + job.faces.size()));
    offset += job.faces.size();
    try {
      job.done(std::move(result));
    } catch (...) {
      // An answer that cannot be sent (a closed connection) must not stop the others.
    }
  }
}

}  // namespace fer::serve
