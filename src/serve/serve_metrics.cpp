#include "serve/serve_metrics.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>

#include "http/http_server.hpp"

namespace fer::serve {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string number(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char text[64];
  std::snprintf(text, sizeof text, "%.9g", value);
  return text;
}

std::string with(const std::string& labels, const std::string& more) {
  if (labels.empty()) return more;
  if (more.empty()) return labels;
  return labels + "," + more;
}

std::string braces(const std::string& labels) {
  return labels.empty() ? "" : "{" + labels + "}";
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  std::size_t bucket = 0;
  while (bucket < bounds_.size() && value > bounds_[bucket]) ++bucket;
  std::lock_guard<std::mutex> lock(mutex_);
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

std::uint64_t Histogram::count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    const std::string le = i < bounds_.size() ? number(bounds_[i]) : "+Inf";
    out += name + "_bucket" + braces(with(labels, "le=\"" + le + "\"")) + " " +
           std::to_string(cumulative) + "\n";
  }
  out += name + "_sum" + braces(labels) + " " + number(sum_) + "\n";
  out += name + "_count" + braces(labels) + " " + std::to_string(count_) + "\n";
}

ServeMetrics::ServeMetrics()
    : latency_({0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5}),
      batch_faces_({1, 2, 4, 8, 16, 32, 64, 128, 256}),
      batch_requests_({1, 2, 4, 8, 16, 32, 64}),
      forward_({0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1}),
      started_(now_seconds()) {}

void ServeMetrics::record_request(const std::string& route, int status, double seconds) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++requests_[{route, status}];
  }
  if (route == "/v1/predict") latency_.observe(seconds);
}

void ServeMetrics::record_batch(std::size_t faces, std::size_t requests, double forward_seconds) {
  batch_faces_.observe(static_cast<double>(faces));
  batch_requests_.observe(static_cast<double>(requests));
  forward_.observe(forward_seconds);
}

void ServeMetrics::set_model(const ModelLabels& model) {
  std::lock_guard<std::mutex> lock(mutex_);
  model_ = model;
}

void ServeMetrics::record_reload(bool ok) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++(ok ? reloads_ : reload_failures_);
}

std::uint64_t ServeMetrics::requests_total() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::uint64_t total = 0;
  for (const auto& entry : requests_) total += entry.second;
  return total;
}

std::string ServeMetrics::prometheus_text() const {
  std::string out;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    out += "# HELP fer_serve_requests_total HTTP requests answered, by route and status code.\n";
    out += "# TYPE fer_serve_requests_total counter\n";
    for (const auto& [key, count] : requests_)
      out += "fer_serve_requests_total{route=\"" + http::prometheus_label(key.first) + "\",code=\"" +
             std::to_string(key.second) + "\"} " + std::to_string(count) + "\n";
    out += "# HELP fer_serve_model_info The model being served (value 1).\n";
    out += "# TYPE fer_serve_model_info gauge\n";
    out += "fer_serve_model_info{run=\"" + http::prometheus_label(model_.run) + "\",file=\"" +
           http::prometheus_label(model_.file) + "\",epoch=\"" + std::to_string(model_.epoch) +
           "\",sha256=\"" + http::prometheus_label(model_.sha256) + "\"} 1\n";
    out += "# HELP fer_serve_model_epoch The served checkpoint's epoch.\n";
    out += "# TYPE fer_serve_model_epoch gauge\n";
    out += "fer_serve_model_epoch " + std::to_string(model_.epoch) + "\n";
    out += "# HELP fer_serve_model_reloads_total Models swapped in while serving.\n";
    out += "# TYPE fer_serve_model_reloads_total counter\n";
    out += "fer_serve_model_reloads_total " + std::to_string(reloads_) + "\n";
    out += "# HELP fer_serve_model_reload_failures_total Checkpoints that could not be loaded "
           "(the previous model stayed).\n";
    out += "# TYPE fer_serve_model_reload_failures_total counter\n";
    out += "fer_serve_model_reload_failures_total " + std::to_string(reload_failures_) + "\n";
  }
  out += "# HELP fer_serve_request_seconds Time from a whole request read to its answer "
         "(POST /v1/predict).\n";
  out += "# TYPE fer_serve_request_seconds histogram\n";
  latency_.render(out, "fer_serve_request_seconds");
  out += "# HELP fer_serve_batch_faces Faces per forward pass.\n";
  out += "# TYPE fer_serve_batch_faces histogram\n";
  batch_faces_.render(out, "fer_serve_batch_faces");
  out += "# HELP fer_serve_batch_requests Requests sharing one forward pass.\n";
  out += "# TYPE fer_serve_batch_requests histogram\n";
  batch_requests_.render(out, "fer_serve_batch_requests");
  out += "# HELP fer_serve_forward_seconds Time of one batched forward pass.\n";
  out += "# TYPE fer_serve_forward_seconds histogram\n";
  forward_.render(out, "fer_serve_forward_seconds");
  out += "# HELP fer_serve_in_flight Requests being answered now.\n";
  out += "# TYPE fer_serve_in_flight gauge\n";
  out += "fer_serve_in_flight " + std::to_string(in_flight.load()) + "\n";
  out += "# HELP fer_serve_queued_faces Faces waiting for a forward pass.\n";
  out += "# TYPE fer_serve_queued_faces gauge\n";
  out += "fer_serve_queued_faces " + std::to_string(queued_faces.load()) + "\n";
  out += "# HELP fer_serve_rejected_busy_total Requests refused with 503 at the concurrency cap.\n";
  out += "# TYPE fer_serve_rejected_busy_total counter\n";
  out += "fer_serve_rejected_busy_total " + std::to_string(rejected_busy.load()) + "\n";
  out += "# HELP fer_serve_start_time_seconds Unix time the server started.\n";
  out += "# TYPE fer_serve_start_time_seconds gauge\n";
  out += "fer_serve_start_time_seconds " + number(started_) + "\n";
  return out;
}

}  // namespace fer::serve
