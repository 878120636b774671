#pragma once
// fer-serve's figures for Prometheus (GET /metrics, text format 0.0.4): requests by
// route and status code, request latency and batch size histograms, forward-pass
// time, the queue, reloads, and the model being served. Thread-safe: the HTTP threads
// and the batching thread record, any thread renders.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace fer::serve {

// A cumulative histogram with fixed upper bounds (the last bucket is +Inf).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // name_bucket{le="..."}, name_sum, name_count lines; `labels` ("route=\"/v1/predict\"")
  // are added to every sample.
  void render(std::string& out, const std::string& name, const std::string& labels = "") const;
  std::uint64_t count() const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::vector<std::uint64_t> counts_;  // per bucket, not cumulative; one more for +Inf
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

struct ModelLabels {
  std::string run, file, sha256;
  int epoch = 0;
};

class ServeMetrics {
 public:
  ServeMetrics();
  void record_request(const std::string& route, int status, double seconds);
  void record_batch(std::size_t faces, std::size_t requests, double forward_seconds);
  void set_model(const ModelLabels& model);
  void record_reload(bool ok);
  std::atomic<std::int64_t> in_flight{0};       // requests being answered
  std::atomic<std::int64_t> queued_faces{0};    // faces waiting for a forward pass
  std::atomic<std::uint64_t> rejected_busy{0};  // 503s for the concurrency cap

  std::string prometheus_text() const;
  std::uint64_t requests_total() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;
  Histogram latency_, batch_faces_, batch_requests_, forward_;
  ModelLabels model_;
  std::uint64_t reloads_ = 0, reload_failures_ = 0;
  double started_;
};

}  // namespace fer::serve
